package dev.palm4j.core.io;

import dev.palm4j.core.InputException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * An open safetensors file: the header parsed and validated as the reference implementation
 * validates it, float32 tensors read on demand (all, a named subset, or a 2-D slice).
 *
 * <p>Validation on open: the header length fits the file and the 100 MB cap, the header is a
 * UTF-8 JSON object, {@code __metadata__} maps strings to strings, every tensor has a known
 * dtype, a shape of non-negative integers and {@code data_offsets} whose length matches shape x
 * dtype size, and the tensors tile the data section exactly (no gap, no overlap, nothing after
 * the last). Every failure is an {@link InputException} naming the file and, where one is at
 * fault, the tensor. Only F32 tensors can be read; reading another dtype names it.
 *
 * <p>Not thread-safe: reads share one buffer. Open one per thread.
 */
public final class SafetensorsFile implements AutoCloseable {

    /** One header entry; {@code begin} and {@code end} are byte offsets into the data section. */
    public record Info(String name, String dtype, long[] shape, long begin, long end) {
        public Info {
            shape = shape.clone();
        }

        @Override public long[] shape() {
            return shape.clone();
        }

        public long count() {
            long n = 1;
            for (long d : shape) n *= d;
            return n;
        }
    }

    private static final Map<String, Integer> DTYPE_BYTES = Map.ofEntries(
            Map.entry("BOOL", 1), Map.entry("U8", 1), Map.entry("I8", 1), Map.entry("F8_E5M2", 1),
            Map.entry("F8_E4M3", 1), Map.entry("I16", 2), Map.entry("U16", 2), Map.entry("F16", 2),
            Map.entry("BF16", 2), Map.entry("I32", 4), Map.entry("U32", 4), Map.entry("F32", 4),
            Map.entry("F64", 8), Map.entry("I64", 8), Map.entry("U64", 8));

    private static final String CORRUPT = "the file is damaged, truncated or not a safetensors file; write it again";

    private final Path path;
    private final FileChannel ch;
    private final long dataStart;
    private final Map<String, String> metadata;
    private final Map<String, Info> tensors; // header order
    private ByteBuffer buf;

    private SafetensorsFile(Path path, FileChannel ch, long dataStart, Map<String, String> metadata, Map<String, Info> tensors) {
        this.path = path;
        this.ch = ch;
        this.dataStart = dataStart;
        this.metadata = metadata;
        this.tensors = tensors;
    }

    /** Opens and validates {@code file}; a missing file is an InputException too. */
    public static SafetensorsFile open(Path file) throws IOException {
        FileChannel ch;
        try {
            ch = FileChannel.open(file, StandardOpenOption.READ);
        } catch (NoSuchFileException e) {
            throw new InputException("no such file: " + file, "check the path", e);
        }
        try {
            return parse(file, ch);
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
    }

    /** Reads every tensor of {@code file}, in header order. */
    public static Map<String, float[]> readAll(Path file) throws IOException {
        try (SafetensorsFile f = open(file)) {
            return f.read(f.names());
        }
    }

    private static SafetensorsFile parse(Path file, FileChannel ch) throws IOException {
        long size = ch.size();
        if (size < 8) throw corrupt(file, "is " + size + " bytes long, too short for the 8-byte header length");
        ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
        readFully(ch, len, 0);
        long n = len.flip().getLong(); // an unsigned u64: a negative long is just very large
        if (n < 0 || n > Safetensors.MAX_HEADER_BYTES)
            throw corrupt(file, "declares a header of " + Long.toUnsignedString(n) + " bytes, more than the "
                    + Safetensors.MAX_HEADER_BYTES + " the format allows");
        if (n > size - 8)
            throw corrupt(file, "declares a header of " + n + " bytes but only " + (size - 8) + " bytes follow the length");
        ByteBuffer hb = ByteBuffer.allocate((int) n);
        readFully(ch, hb, 8);
        byte[] header = hb.array();
        if (n == 0 || header[0] != '{') throw corrupt(file, "has a header that does not start with '{'");
        JsonObject h = JsonObject.of(Json.parse(header, file + " (safetensors header)"), file + " header");

        Map<String, String> metadata = new LinkedHashMap<>();
        Map<String, Info> tensors = new LinkedHashMap<>();
        for (String name : h.keys()) {
            if (name.equals("__metadata__")) {
                Object m = h.get(name);
                if (m == null) continue;
                for (Map.Entry<String, Object> e : JsonObject.of(m, file + " __metadata__").map().entrySet()) {
                    if (!(e.getValue() instanceof String s))
                        throw corrupt(file, "has __metadata__ value \"" + e.getKey() + "\" that is not a string");
                    metadata.put(e.getKey(), s);
                }
                continue;
            }
            tensors.put(name, info(file, name, JsonObject.of(h.get(name), file + " tensor '" + name + "'")));
        }

        // The reference's rule: sorted by offsets, the tensors tile the data section exactly.
        List<Info> byOffset = new ArrayList<>(tensors.values());
        byOffset.sort(Comparator.comparingLong(Info::begin).thenComparingLong(Info::end));
        long at = 0;
        for (Info t : byOffset) {
            if (t.begin() != at)
                throw corrupt(file, "has tensor '" + t.name() + "' at data bytes [" + t.begin() + ", " + t.end()
                        + ") but the previous tensor ends at " + at + " (tensors must be back to back)");
            at = t.end();
        }
        long data = size - 8 - n;
        if (at != data)
            throw corrupt(file, "has " + data + " bytes of tensor data but its header describes " + at
                    + (data < at ? " (truncated?)" : " (trailing bytes?)"));
        return new SafetensorsFile(file, ch, 8 + n, Collections.unmodifiableMap(metadata), Collections.unmodifiableMap(tensors));
    }

    private static Info info(Path file, String name, JsonObject o) {
        String dtype = o.string("dtype");
        Integer bytes = DTYPE_BYTES.get(dtype);
        if (bytes == null) throw corrupt(file, "has tensor '" + name + "' of unknown dtype \"" + dtype + "\"");
        long[] shape = o.longs("shape");
        long[] off = o.longs("data_offsets");
        if (off.length != 2) throw corrupt(file, "has tensor '" + name + "' whose data_offsets is not [begin, end]");
        long count = 1;
        for (long d : shape) {
            if (d < 0) throw corrupt(file, "has tensor '" + name + "' with a negative dimension in shape " + Arrays.toString(shape));
            try {
                count = Math.multiplyExact(count, d);
            } catch (ArithmeticException e) {
                throw corrupt(file, "has tensor '" + name + "' with an impossibly large shape " + Arrays.toString(shape));
            }
        }
        if (off[0] < 0 || off[1] < off[0])
            throw corrupt(file, "has tensor '" + name + "' with data_offsets " + Arrays.toString(off) + " out of order");
        if (count > Long.MAX_VALUE / bytes || off[1] - off[0] != count * bytes)
            throw corrupt(file, "has tensor '" + name + "' of shape " + Arrays.toString(shape) + " " + dtype + " ("
                    + (count > Long.MAX_VALUE / bytes ? "too many" : count * bytes) + " bytes) but data_offsets "
                    + Arrays.toString(off) + " span " + (off[1] - off[0]) + " bytes");
        return new Info(name, dtype, shape, off[0], off[1]);
    }

    private static InputException corrupt(Path file, String problem) {
        return new InputException(file + " " + problem, CORRUPT);
    }

    public Path path() {
        return path;
    }

    /** The {@code __metadata__} map (empty when the file has none). */
    public Map<String, String> metadata() {
        return metadata;
    }

    /** Every tensor, in header order. */
    public Collection<Info> tensors() {
        return tensors.values();
    }

    public List<String> names() {
        return new ArrayList<>(tensors.keySet());
    }

    public boolean has(String name) {
        return tensors.containsKey(name);
    }

    public Info info(String name) {
        Info t = tensors.get(name);
        if (t == null) throw new InputException(path + " has no tensor '" + name + "'", null);
        return t;
    }

    /** A whole F32 tensor as a new array. */
    public float[] read(String name) throws IOException {
        long n = f32(name).count();
        if (n > Integer.MAX_VALUE - 8)
            throw new InputException(path + " tensor '" + name + "' has " + n + " elements, more than a Java array holds", null);
        float[] out = new float[(int) n];
        read(name, out, 0);
        return out;
    }

    /** Reads a whole F32 tensor into {@code dst[off, off + count)}. */
    public void read(String name, float[] dst, int off) throws IOException {
        Info t = f32(name);
        readFloats(dataStart + t.begin(), dst, off, t.count());
    }

    /** Several tensors by name, in the order given. */
    public Map<String, float[]> read(Collection<String> names) throws IOException {
        Map<String, float[]> out = new LinkedHashMap<>();
        for (String name : names) out.put(name, read(name));
        return out;
    }

    /**
     * Reads the block {@code [rowStart, rowStart+rows) x [colStart, colStart+cols)} of an F32
     * tensor seen as a matrix of its last dimension's columns (a vector is one row), row-major into
     * {@code dst} at {@code off}. This is how one device of a model-parallel mesh loads its shard.
     */
    public void readSlice(String name, int rowStart, int rows, int colStart, int cols, float[] dst, int off) throws IOException {
        Info t = f32(name);
        long[] s = t.shape();
        long fullCols = s.length == 0 ? 1 : s[s.length - 1];
        long fullRows = fullCols == 0 ? 0 : t.count() / fullCols;
        if (rowStart < 0 || colStart < 0 || rows < 0 || cols < 0 || rowStart + (long) rows > fullRows || colStart + (long) cols > fullCols)
            throw new IllegalArgumentException(name + ": slice rows [" + rowStart + "+" + rows + ") cols [" + colStart + "+" + cols
                    + ") outside " + fullRows + " x " + fullCols);
        long base = dataStart + t.begin();
        if (cols == fullCols) { // whole rows are contiguous on disk: one read
            readFloats(base + (long) rowStart * fullCols * Float.BYTES, dst, off, (long) rows * cols);
            return;
        }
        for (int r = 0; r < rows; r++)
            readFloats(base + ((rowStart + r) * fullCols + colStart) * Float.BYTES, dst, off + r * cols, cols);
    }

    private Info f32(String name) {
        Info t = info(name);
        if (!t.dtype().equals("F32"))
            throw new InputException(path + " tensor '" + name + "' has dtype " + t.dtype() + "; palm4j reads only F32",
                    "convert the weights to float32 first (in PyTorch: {k: v.float() for k, v in state_dict.items()})");
        return t;
    }

    /** Chunked positional reads into one reused direct buffer, copied out with a bulk float get. */
    private void readFloats(long position, float[] dst, int off, long count) throws IOException {
        if (off < 0 || off + count > dst.length)
            throw new IllegalArgumentException(count + " floats at " + off + " do not fit an array of " + dst.length);
        if (buf == null) buf = ByteBuffer.allocateDirect(Safetensors.CHUNK_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        while (count > 0) {
            int k = (int) Math.min(count, Safetensors.CHUNK_BYTES / Float.BYTES);
            buf.clear().limit(k * Float.BYTES);
            readFully(ch, buf, position);
            buf.flip();
            buf.asFloatBuffer().get(dst, off, k);
            position += (long) k * Float.BYTES;
            off += k;
            count -= k;
        }
    }

    private static void readFully(FileChannel ch, ByteBuffer b, long position) throws IOException {
        while (b.hasRemaining()) {
            int r = ch.read(b, position);
            if (r < 0) throw new IOException("unexpected end of file at byte " + position);
            position += r;
        }
    }

    @Override
    public void close() throws IOException {
        ch.close();
    }
}
