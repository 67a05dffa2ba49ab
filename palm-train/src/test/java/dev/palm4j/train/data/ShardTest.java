package dev.palm4j.train.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.palm4j.core.InputException;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ShardTest {
    @TempDir Path dir;

    static int[] randomIds(long seed, int n, int vocab) {
        Random r = new Random(seed);
        int[] ids = new int[n];
        for (int i = 0; i < n; i++) ids[i] = r.nextInt(vocab);
        return ids;
    }

    private List<Path> write(String split, int[] ids, int vocab, int width, long maxTokens) {
        ShardWriter w = new ShardWriter(dir, split, vocab, width, maxTokens);
        try (w) {
            w.write(ids, 0, ids.length / 3); // in pieces, so pieces and shards do not line up
            w.write(ids, ids.length / 3, ids.length);
        }
        assertEquals(ids.length, w.tokens());
        return w.shards();
    }

    @Test
    void writeReadRoundTripAcrossShardsAndWidths() {
        for (int[] wv : new int[][] {{2, 300}, {2, 65536}, {4, 70000}, {4, 1 << 24}}) {
            int width = wv[0], vocab = wv[1];
            int[] ids = randomIds(vocab, 10_000, vocab);
            String split = "w" + width + "v" + vocab;
            List<Path> files = write(split, ids, vocab, width, 3000);
            assertEquals(4, files.size());
            assertEquals(files, ShardSet.files(dir, split));
            ShardSet set = ShardSet.open(files);
            assertEquals(10_000, set.size());
            assertEquals(vocab, set.vocabSize());
            int[] back = new int[ids.length];
            set.read(0, back, 0, ids.length);
            assertArrayEquals(ids, back);
            int[] window = new int[100];
            set.read(2950, window, 0, 100); // across a shard end
            for (int i = 0; i < 100; i++) assertEquals(ids[2950 + i], window[i]);
            for (Path f : files) assertEquals(width, Shard.open(f).header().width());
        }
    }

    @Test
    void headerLayoutIsLittleEndianAsDocumented() throws IOException {
        Path f = write("h", new int[] {1, 258, 65535}, 65536, 2, 100).get(0);
        ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(f)).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(32 + 3 * 2, b.capacity());
        byte[] magic = new byte[8];
        b.get(magic);
        assertEquals("PALM4JTK", new String(magic, java.nio.charset.StandardCharsets.US_ASCII));
        assertEquals(1, b.getInt());
        assertEquals(2, b.getInt());
        assertEquals(65536, b.getInt());
        assertEquals(0, b.getInt());
        assertEquals(3, b.getLong());
        assertEquals(1, b.getShort() & 0xFFFF);
        assertEquals(258, b.getShort() & 0xFFFF);
        assertEquals(65535, b.getShort() & 0xFFFF);
    }

    private InputException assertBad(Path f, String expected) {
        InputException e = assertThrows(InputException.class, () -> Shard.open(f));
        assertTrue(e.getMessage().contains(expected), e.getMessage());
        assertTrue(e.getMessage().contains(f.toString()), e.getMessage());
        return e;
    }

    @Test
    void wrongMagicTruncatedBodyAndTrailingBytesAreErrors() throws IOException {
        Path f = write("bad", randomIds(1, 500, 300), 300, 2, 1000).get(0);
        byte[] good = Files.readAllBytes(f);

        byte[] magic = good.clone();
        magic[0] = 'X';
        Files.write(f, magic);
        assertBad(f, "wrong magic");

        Files.write(f, java.util.Arrays.copyOf(good, good.length - 3));
        assertBad(f, "truncated");

        Files.write(f, java.util.Arrays.copyOf(good, good.length + 2));
        assertBad(f, "after its 500 tokens");

        Files.write(f, java.util.Arrays.copyOf(good, 20));
        assertBad(f, "shorter than the 32-byte header");

        Files.write(f, "just some text that is long enough to be a header".getBytes());
        assertBad(f, "wrong magic");

        byte[] version = good.clone();
        version[8] = 9;
        Files.write(f, version);
        assertBad(f, "version 9");

        byte[] tooWide = good.clone(); // header claims uint16 ids for a vocabulary that needs more
        ByteBuffer.wrap(tooWide).order(ByteOrder.LITTLE_ENDIAN).putInt(16, 70000);
        Files.write(f, tooWide);
        assertBad(f, "does not fit 2-byte");

        assertThrows(InputException.class, () -> Shard.open(dir.resolve("missing.bin")));
    }

    @Test
    void aShardCutOffBeforeItsHeaderWasWrittenIsRejected() throws IOException {
        ShardWriter w = new ShardWriter(dir, "crash", 300, 2, 1000);
        w.write(randomIds(2, 100, 300));
        // no close(): as if the process died; the header is still zeros
        Path f = dir.resolve("crash-00000.bin");
        try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
            raf.setLength(Math.max(raf.length(), 32));
        }
        assertBad(f, "wrong magic");
    }

    @Test
    void vocabularyTooLargeForTheTokenWidthIsAnError() {
        InputException e = assertThrows(InputException.class, () -> new ShardWriter(dir, "train", 70000, 2, 1000));
        assertTrue(e.getMessage().contains("70000") && e.getMessage().contains("uint16"), e.getMessage());
        assertEquals(2, ShardHeader.widthFor(65536));
        assertEquals(4, ShardHeader.widthFor(65537));
        try (ShardWriter w = new ShardWriter(dir, "train", 300)) {
            InputException out = assertThrows(InputException.class, () -> w.write(300));
            assertTrue(out.getMessage().contains("300"));
        }
    }

    @Test
    void aCorruptIdInTheBodyIsCaughtWhenRead() throws IOException {
        Path f = write("corrupt", randomIds(3, 100, 300), 300, 2, 1000).get(0);
        byte[] b = Files.readAllBytes(f);
        b[32 + 2 * 10] = (byte) 0xFF;
        b[32 + 2 * 10 + 1] = (byte) 0xFF;
        Files.write(f, b);
        Shard s = Shard.open(f);
        int[] dst = new int[100];
        InputException e = assertThrows(InputException.class, () -> s.read(0, dst, 0, 100));
        assertTrue(e.getMessage().contains("65535") && e.getMessage().contains("token 10"), e.getMessage());
    }

    @Test
    void shardsOfDifferentVocabulariesDoNotMix() {
        Path a = write("a", randomIds(4, 10, 300), 300, 2, 100).get(0);
        Path b = write("b", randomIds(5, 10, 400), 400, 2, 100).get(0);
        assertThrows(InputException.class, () -> ShardSet.open(List.of(a, b)));
    }
}
