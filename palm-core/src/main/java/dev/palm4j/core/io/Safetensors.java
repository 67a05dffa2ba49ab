package dev.palm4j.core.io;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Writes the safetensors format (https://github.com/huggingface/safetensors) for float32 tensors,
 * byte for byte as the reference implementation does:
 *
 * <pre>
 *   u64 little-endian N | N bytes of JSON header, padded with spaces to a multiple of 8 | data
 *   header: {"__metadata__":{"k":"v",...},"name":{"dtype":"F32","shape":[r,c],"data_offsets":[begin,end]},...}
 * </pre>
 * {@code data_offsets} are byte offsets into the data section (after the header); tensors are
 * laid out back to back in the order given, little-endian. Read files with {@link SafetensorsFile}.
 */
public final class Safetensors {
    private Safetensors() {}

    /** The reference implementation refuses headers larger than this (100 MB); so do we. */
    public static final long MAX_HEADER_BYTES = 100_000_000L;

    /** Bytes per chunk when copying floats to or from a channel. */
    static final int CHUNK_BYTES = 1 << 22;

    /**
     * One float32 tensor to write: {@code data[offset, offset + count)} in row-major order, where
     * count is the product of {@code shape} (1 for the scalar shape {@code []}).
     */
    public record Tensor(String name, long[] shape, float[] data, int offset) {
        public Tensor {
            if (name == null || name.equals("__metadata__")) throw new IllegalArgumentException("bad tensor name " + name);
            shape = shape.clone();
            long n = 1;
            for (long d : shape) {
                if (d < 0) throw new IllegalArgumentException(name + ": negative dimension in " + Arrays.toString(shape));
                n = Math.multiplyExact(n, d);
            }
            if (offset < 0 || offset + n > data.length)
                throw new IllegalArgumentException(name + ": " + n + " floats at offset " + offset + " exceed the array (" + data.length + ")");
        }

        public Tensor(String name, long[] shape, float[] data) {
            this(name, shape, data, 0);
        }

        /** Number of floats. */
        public long count() {
            long n = 1;
            for (long d : shape) n *= d;
            return n;
        }

        @Override public long[] shape() {
            return shape.clone();
        }
    }

    /** Writes a file (created or truncated) and forces it to disk. */
    public static void write(Path file, Map<String, String> metadata, List<Tensor> tensors) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            write(ch, metadata, tensors);
            ch.force(true);
        }
    }

    /** Writes the whole format to {@code out}; {@code metadata} may be null (no {@code __metadata__}). */
    public static void write(WritableByteChannel out, Map<String, String> metadata, List<Tensor> tensors) throws IOException {
        byte[] header = header(metadata, tensors);
        ByteBuffer buf = ByteBuffer.allocateDirect(CHUNK_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        buf.putLong(header.length).flip();
        writeFully(out, buf);
        writeFully(out, ByteBuffer.wrap(header));
        for (Tensor t : tensors) {
            long n = t.count();
            int at = t.offset();
            while (n > 0) {
                int k = (int) Math.min(n, CHUNK_BYTES / Float.BYTES);
                buf.clear();
                buf.asFloatBuffer().put(t.data(), at, k); // bulk copy, not a loop per float
                buf.limit(k * Float.BYTES);
                writeFully(out, buf);
                at += k;
                n -= k;
            }
        }
    }

    /** The header bytes (JSON plus space padding), without the 8-byte length in front. */
    public static byte[] header(Map<String, String> metadata, List<Tensor> tensors) {
        Map<String, Object> h = new LinkedHashMap<>();
        if (metadata != null) h.put("__metadata__", metadata);
        Set<String> names = new HashSet<>();
        long at = 0;
        for (Tensor t : tensors) {
            if (!names.add(t.name())) throw new IllegalArgumentException("tensor " + t.name() + " appears twice");
            long end = at + t.count() * Float.BYTES;
            Map<String, Object> info = new LinkedHashMap<>(); // field order of the reference: dtype, shape, data_offsets
            info.put("dtype", "F32");
            info.put("shape", t.shape());
            info.put("data_offsets", new long[] {at, end});
            h.put(t.name(), info);
            at = end;
        }
        byte[] json = Json.write(h).getBytes(StandardCharsets.UTF_8);
        int padded = (json.length + 7) / 8 * 8; // the reference pads with spaces so the data starts 8-aligned
        byte[] out = Arrays.copyOf(json, padded);
        Arrays.fill(out, json.length, padded, (byte) ' ');
        return out;
    }

    static void writeFully(WritableByteChannel out, ByteBuffer buf) throws IOException {
        while (buf.hasRemaining()) out.write(buf);
    }
}
