package dev.palm4j.train.data;

import dev.palm4j.core.InputException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;

/**
 * Streams token ids into shards {@code <split>-00000.bin}, {@code <split>-00001.bin}, ... of at
 * most {@code maxTokens} tokens each. The header is written when a shard is finished: a shard
 * cut off by a crash has an all-zero header, which the reader rejects.
 */
public final class ShardWriter implements AutoCloseable {
    /** Default shard size: 2^28 tokens (512 MiB at 2 bytes), well under the 2 GiB a mapping can hold. */
    public static final long DEFAULT_MAX_TOKENS = 1L << 28;

    private final Path dir;
    private final String split;
    private final int width, vocabSize;
    private final long maxTokens;
    private final ByteBuffer buf = ByteBuffer.allocate(1 << 20).order(ByteOrder.LITTLE_ENDIAN);
    private final List<Path> shards = new ArrayList<>();
    private FileChannel out;
    private long inShard, total;

    /** Ids of the narrowest width for {@code vocabSize}. */
    public ShardWriter(Path dir, String split, int vocabSize) {
        this(dir, split, vocabSize, ShardHeader.widthFor(vocabSize), DEFAULT_MAX_TOKENS);
    }

    /** {@code width} 2 or 4 bytes; a vocabulary too large for it is an {@link InputException}. */
    public ShardWriter(Path dir, String split, int vocabSize, int width, long maxTokens) {
        new ShardHeader(width, vocabSize, 0); // validates width against the vocabulary
        if (maxTokens < 1 || maxTokens * width > Integer.MAX_VALUE - ShardHeader.BYTES) {
            throw new IllegalArgumentException("maxTokens " + maxTokens + " makes shards that cannot be memory-mapped");
        }
        this.dir = dir;
        this.split = split;
        this.width = width;
        this.vocabSize = vocabSize;
        this.maxTokens = maxTokens;
    }

    public void write(int[] ids) {
        write(ids, 0, ids.length);
    }

    public void write(int[] ids, int from, int to) {
        try {
            for (int i = from; i < to; i++) {
                int id = ids[i];
                if (id < 0 || id >= vocabSize) throw new InputException("token id " + id + " is outside the vocabulary of " + vocabSize);
                if (out == null) start();
                if (buf.remaining() < width) flush();
                if (width == 2) buf.putShort((short) id);
                else buf.putInt(id);
                total++;
                if (++inShard == maxTokens) finish();
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write shard in " + dir + ": " + e.getMessage(), e);
        }
    }

    public void write(int id) {
        write(new int[] {id});
    }

    /** Tokens written so far. */
    public long tokens() {
        return total;
    }

    /** The shards written (complete after {@link #close}). */
    public List<Path> shards() {
        return List.copyOf(shards);
    }

    private void start() throws IOException {
        Path p = dir.resolve(String.format("%s-%05d.bin", split, shards.size()));
        out = FileChannel.open(p, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE);
        out.write(ByteBuffer.allocate(ShardHeader.BYTES), 0); // zeros until finished
        out.position(ShardHeader.BYTES);
        shards.add(p);
        inShard = 0;
    }

    private void flush() throws IOException {
        buf.flip();
        while (buf.hasRemaining()) out.write(buf);
        buf.clear();
    }

    private void finish() throws IOException {
        flush();
        ByteBuffer h = new ShardHeader(width, vocabSize, inShard).encode();
        while (h.hasRemaining()) out.write(h, h.position());
        out.force(true);
        out.close();
        out = null;
    }

    @Override
    public void close() {
        try {
            if (out != null) finish();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write shard in " + dir + ": " + e.getMessage(), e);
        }
    }
}
