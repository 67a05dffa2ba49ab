package dev.palm4j.core.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.palm4j.core.InputException;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.Channels;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafetensorsTest {
    @TempDir Path dir;

    static byte[] bytes(Map<String, String> metadata, List<Safetensors.Tensor> tensors) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        Safetensors.write(Channels.newChannel(out), metadata, tensors);
        return out.toByteArray();
    }

    static int[] unsigned(byte[] b) {
        int[] u = new int[b.length];
        for (int i = 0; i < b.length; i++) u[i] = b[i] & 0xff;
        return u;
    }

    // The expected bytes below are the reference implementation's own serialization tests
    // (huggingface/safetensors, safetensors/src/tensor.rs), so equality means the same format.

    @Test
    void headerMatchesTheReferenceByteForByte() throws IOException {
        float[] data = {0, 1, 2, 3, 4, 5};
        assertArrayEquals(new int[] {
                64, 0, 0, 0, 0, 0, 0, 0, 123, 34, 97, 116, 116, 110, 46, 48, 34, 58, 123, 34, 100,
                116, 121, 112, 101, 34, 58, 34, 70, 51, 50, 34, 44, 34, 115, 104, 97, 112, 101, 34,
                58, 91, 49, 44, 50, 44, 51, 93, 44, 34, 100, 97, 116, 97, 95, 111, 102, 102, 115,
                101, 116, 115, 34, 58, 91, 48, 44, 50, 52, 93, 125, 125, 0, 0, 0, 0, 0, 0, 128, 63,
                0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0, 160, 64},
                unsigned(bytes(null, List.of(new Safetensors.Tensor("attn.0", new long[] {1, 2, 3}, data)))));
    }

    @Test
    void headerIsPaddedWithSpacesToEightBytesLikeTheReference() throws IOException {
        float[] data = {0, 1, 2, 3, 4, 5};
        assertArrayEquals(new int[] {
                72, 0, 0, 0, 0, 0, 0, 0, 123, 34, 97, 116, 116, 110, 48, 34, 58, 123, 34, 100, 116,
                121, 112, 101, 34, 58, 34, 70, 51, 50, 34, 44, 34, 115, 104, 97, 112, 101, 34, 58,
                91, 49, 44, 49, 44, 50, 44, 51, 93, 44, 34, 100, 97, 116, 97, 95, 111, 102, 102,
                115, 101, 116, 115, 34, 58, 91, 48, 44, 50, 52, 93, 125, 125, 32, 32, 32, 32, 32,
                32, 32, 0, 0, 0, 0, 0, 0, 128, 63, 0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0,
                160, 64},
                unsigned(bytes(null, List.of(new Safetensors.Tensor("attn0", new long[] {1, 1, 2, 3}, data)))));
    }

    @Test
    void emptyFilesAndMetadataMatchTheReference() throws IOException {
        assertArrayEquals(new int[] {8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32}, unsigned(bytes(null, List.of())));
        assertArrayEquals(new int[] {
                40, 0, 0, 0, 0, 0, 0, 0, 123, 34, 95, 95, 109, 101, 116, 97, 100, 97, 116, 97, 95,
                95, 34, 58, 123, 34, 102, 114, 97, 109, 101, 119, 111, 114, 107, 34, 58, 34, 112,
                116, 34, 125, 125, 32, 32, 32, 32, 32},
                unsigned(bytes(Map.of("framework", "pt"), List.of())));
    }

    @Test
    void headerFollowsTheSpecForSeveralTensors() throws IOException {
        float[] a = new float[6], b = new float[4];
        byte[] file = bytes(Map.of("format", "palm4j"), List.of(
                new Safetensors.Tensor("w", new long[] {2, 3}, a), new Safetensors.Tensor("v", new long[] {4}, b)));
        ByteBuffer bb = ByteBuffer.wrap(file).order(ByteOrder.LITTLE_ENDIAN);
        long n = bb.getLong();
        assertEquals(0, n % 8);
        String header = new String(file, 8, (int) n, StandardCharsets.UTF_8);
        assertEquals("{\"__metadata__\":{\"format\":\"palm4j\"},\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
                + "\"v\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[24,40]}}", header.stripTrailing());
        assertTrue(header.substring(header.stripTrailing().length()).chars().allMatch(c -> c == ' '));
        assertEquals(8 + n + 40, file.length);
    }

    /** A file put together by hand from the spec, with the liberties the spec allows. */
    @Test
    void readsAHandMadeFile() throws IOException {
        String header = "{ \"b\" : {\"shape\":[2],\"data_offsets\":[12,20],\"dtype\":\"F32\"},\n"
                + "  \"__metadata__\": {\"who\": \"hand\"},\n"
                + "  \"a\": {\"dtype\": \"F32\", \"shape\": [], \"data_offsets\": [0, 4]},\n"
                + "  \"empty\": {\"dtype\": \"F32\", \"shape\": [0, 3], \"data_offsets\": [20, 20]},\n"
                + "  \"h\": {\"dtype\": \"F16\", \"shape\": [4], \"data_offsets\": [4, 12]}}";
        byte[] hb = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer f = ByteBuffer.allocate(8 + hb.length + 20).order(ByteOrder.LITTLE_ENDIAN);
        f.putLong(hb.length).put(hb);
        f.putFloat(-1.5f);                 // a: scalar
        f.putLong(0x3C003C003C003C00L);     // h: four F16 ones
        f.putFloat(3f).putFloat(Float.intBitsToFloat(0x7FC01234)); // b: 3 and a NaN with a payload
        Path p = dir.resolve("hand.safetensors");
        Files.write(p, f.array());
        try (SafetensorsFile s = SafetensorsFile.open(p)) {
            assertEquals(Map.of("who", "hand"), s.metadata());
            assertEquals(List.of("b", "a", "empty", "h"), s.names());
            assertArrayEquals(new float[] {-1.5f}, s.read("a"));
            float[] b = s.read("b");
            assertEquals(3f, b[0]);
            assertEquals(0x7FC01234, Float.floatToRawIntBits(b[1]), "NaN payload kept");
            assertEquals(0, s.read("empty").length);
            assertArrayEquals(new long[] {4}, s.info("h").shape());
            InputException e = assertThrows(InputException.class, () -> s.read("h"));
            assertTrue(e.problem().contains(p.toString()) && e.problem().contains("'h'") && e.problem().contains("F16"), e.problem());
            assertTrue(assertThrows(InputException.class, () -> s.read("nope")).problem().contains("no tensor 'nope'"));
        }
    }

    @Test
    void roundTripIsBitwiseAcrossChunks() throws IOException {
        Random r = new Random(5);
        float[] big = new float[Safetensors.CHUNK_BYTES / 4 * 2 + 1234]; // spans three chunks
        for (int i = 0; i < big.length; i++) big[i] = Float.intBitsToFloat(r.nextInt());
        float[] small = {-0f, Float.MIN_VALUE, Float.MAX_VALUE, Float.NEGATIVE_INFINITY, Float.intBitsToFloat(0x7F800001)};
        Path p = dir.resolve("rt.safetensors");
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("k", "v \"quoted\" é");
        Safetensors.write(p, meta, List.of(
                new Safetensors.Tensor("big", new long[] {big.length}, big),
                new Safetensors.Tensor("small.part", new long[] {1, 3}, small, 2)));
        try (SafetensorsFile s = SafetensorsFile.open(p)) {
            assertEquals(meta, s.metadata());
            assertBitwise(big, s.read("big"));
            assertBitwise(Arrays.copyOfRange(small, 2, 5), s.read("small.part"));
            Map<String, float[]> subset = s.read(List.of("small.part"));
            assertEquals(List.of("small.part"), List.copyOf(subset.keySet()));
        }
        assertEquals(List.of("big", "small.part"), List.copyOf(SafetensorsFile.readAll(p).keySet()));
    }

    @Test
    void readsRowAndColumnSlices() throws IOException {
        float[] m = new float[5 * 7];
        for (int i = 0; i < m.length; i++) m[i] = i;
        Path p = dir.resolve("m.safetensors");
        Safetensors.write(p, null, List.of(new Safetensors.Tensor("m", new long[] {5, 7}, m)));
        try (SafetensorsFile s = SafetensorsFile.open(p)) {
            float[] rows = new float[2 * 7 + 1];
            s.readSlice("m", 3, 2, 0, 7, rows, 1);
            assertArrayEquals(Arrays.copyOfRange(m, 21, 35), Arrays.copyOfRange(rows, 1, 15));
            float[] cols = new float[5 * 2];
            s.readSlice("m", 0, 5, 4, 2, cols, 0);
            for (int r = 0; r < 5; r++) {
                assertEquals(m[r * 7 + 4], cols[r * 2]);
                assertEquals(m[r * 7 + 5], cols[r * 2 + 1]);
            }
            assertThrows(IllegalArgumentException.class, () -> s.readSlice("m", 4, 2, 0, 7, rows, 0));
        }
    }

    // ----------------------------------------------------------------------------- bad files

    private Path file(String header, int dataBytes) throws IOException {
        return file(header.getBytes(StandardCharsets.UTF_8), header.getBytes(StandardCharsets.UTF_8).length, dataBytes);
    }

    private Path file(byte[] header, long declared, int dataBytes) throws IOException {
        ByteBuffer f = ByteBuffer.allocate(8 + header.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
        f.putLong(declared).put(header);
        Path p = Files.createTempFile(dir, "bad", ".safetensors");
        Files.write(p, f.array());
        return p;
    }

    private static String bad(Path p) {
        InputException e = assertThrows(InputException.class, () -> SafetensorsFile.open(p).close());
        assertTrue(e.problem().contains(p.toString()), e.problem());
        return e.problem();
    }

    private static final String T = "{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";

    @Test
    void rejectsBrokenFramingWithAClearMessage() throws IOException {
        Path tiny = dir.resolve("tiny");
        Files.write(tiny, new byte[] {1, 2, 3});
        assertTrue(bad(tiny).contains("too short"));
        byte[] h = T.getBytes(StandardCharsets.UTF_8);
        assertTrue(bad(file(h, h.length + 100, 0)).contains("only"));
        assertTrue(bad(file(h, -1, 8)).contains("18446744073709551615"), "the u64 length is shown unsigned");
        assertTrue(bad(file(h, Safetensors.MAX_HEADER_BYTES + 1, 8)).contains("more than"));
        assertTrue(bad(file(" " + T, 8)).contains("start with '{'"));
        assertTrue(bad(file("{\"t\":", 8)).contains("malformed JSON at byte 5"));
        assertTrue(bad(file("[1]", 0)).contains("'{'"));
        assertTrue(bad(file(T, 4)).contains("truncated"));
        assertTrue(bad(file(T, 12)).contains("trailing"));
        assertThrows(InputException.class, () -> SafetensorsFile.open(dir.resolve("missing.safetensors")));
    }

    @Test
    void rejectsInconsistentTensorEntriesNamingTheTensor() throws IOException {
        String two = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[%s]}}";
        assertTrue(bad(file(String.format(two, "12,16"), 16)).contains("'b'"), "gap");
        assertTrue(bad(file(String.format(two, "4,8"), 8)).contains("back to back"), "overlap");
        assertTrue(bad(file(String.format(two, "8,16"), 16)).contains("'b'"), "shape x dtype != span");
        assertTrue(bad(file(String.format(two, "8,4"), 8)).contains("'b'"), "end before begin");
        assertTrue(bad(file(String.format(two, "8"), 8)).contains("[begin, end]"));
        assertTrue(bad(file("{\"t\":{\"dtype\":\"Q4\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8)).contains("unknown dtype \"Q4\""));
        assertTrue(bad(file("{\"t\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8)).contains("negative"));
        assertTrue(bad(file("{\"t\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,8]}}", 8)).contains("'t'"));
        assertTrue(bad(file("{\"t\":{\"shape\":[2],\"data_offsets\":[0,8]}}", 8)).contains("\"dtype\" is missing"));
        assertTrue(bad(file("{\"t\":{\"dtype\":\"F32\",\"shape\":[2.0],\"data_offsets\":[0,8]}}", 8)).contains("integers"));
        assertTrue(bad(file("{\"t\":[]}", 0)).contains("'t'"));
        assertTrue(bad(file("{\"__metadata__\":{\"k\":1}}", 0)).contains("not a string"));
    }

    /** Every truncation of a valid file is an InputException, never anything else. */
    @Test
    void everyTruncationIsAnInputException() throws IOException {
        Path good = dir.resolve("good.safetensors");
        Safetensors.write(good, Map.of("format", "palm4j"), List.of(
                new Safetensors.Tensor("a", new long[] {3, 2}, new float[6]), new Safetensors.Tensor("b", new long[] {5}, new float[5])));
        byte[] all = Files.readAllBytes(good);
        Path cut = dir.resolve("cut.safetensors");
        for (int n = 0; n < all.length; n++) {
            Files.write(cut, Arrays.copyOf(all, n));
            assertThrows(InputException.class, () -> SafetensorsFile.open(cut).close(), "truncated to " + n);
        }
        Random r = new Random(9);
        for (int i = 0; i < 300; i++) { // garbage in the header: InputException or, if still valid, readable
            byte[] m = all.clone();
            int at = 8 + r.nextInt((int) ByteBuffer.wrap(all).order(ByteOrder.LITTLE_ENDIAN).getLong());
            m[at] = (byte) r.nextInt(256);
            Files.write(cut, m);
            try (SafetensorsFile f = SafetensorsFile.open(cut)) {
                for (String name : f.names()) f.info(name);
            } catch (InputException expected) {
                // fine: named and explained
            }
        }
    }

    @Test
    void aFullDiskIsAnIOException() {
        Path full = Path.of("/dev/full");
        Assumptions.assumeTrue(Files.exists(full));
        float[] big = new float[1 << 20];
        assertThrows(IOException.class, () -> Safetensors.write(full, null, List.of(new Safetensors.Tensor("x", new long[] {big.length}, big))));
    }

    @Test
    void writerRejectsBadTensors() {
        float[] d = new float[4];
        assertThrows(IllegalArgumentException.class, () -> new Safetensors.Tensor("x", new long[] {5}, d));
        assertThrows(IllegalArgumentException.class, () -> new Safetensors.Tensor("x", new long[] {2}, d, 3));
        assertThrows(IllegalArgumentException.class, () -> new Safetensors.Tensor("x", new long[] {-1}, d));
        assertThrows(IllegalArgumentException.class, () -> new Safetensors.Tensor("__metadata__", new long[] {1}, d));
        assertThrows(IllegalArgumentException.class, () -> Safetensors.header(null, List.of(
                new Safetensors.Tensor("x", new long[] {1}, d), new Safetensors.Tensor("x", new long[] {1}, d))));
    }

    static void assertBitwise(float[] want, float[] got) {
        assertEquals(want.length, got.length);
        for (int i = 0; i < want.length; i++)
            if (Float.floatToRawIntBits(want[i]) != Float.floatToRawIntBits(got[i]))
                throw new AssertionError("element " + i + ": " + want[i] + " != " + got[i]);
    }
}
