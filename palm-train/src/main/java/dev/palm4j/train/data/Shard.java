package dev.palm4j.train.data;

import dev.palm4j.core.InputException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/** One token shard, memory-mapped read-only; its header is checked against the file's size. */
public final class Shard {
    private final Path path;
    private final ShardHeader header;
    private final ByteBuffer body; // little-endian ids; absolute reads only, so safe to share

    private Shard(Path path, ShardHeader header, ByteBuffer body) {
        this.path = path;
        this.header = header;
        this.body = body;
    }

    public static Shard open(Path path) {
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            long size = ch.size();
            ByteBuffer head = ByteBuffer.allocate((int) Math.min(size, ShardHeader.BYTES));
            while (head.hasRemaining() && ch.read(head) >= 0) { }
            ShardHeader h = ShardHeader.decode(head.flip(), path.toString());
            if (size < h.fileBytes()) {
                throw new InputException(path + " is truncated: its header promises " + h.count() + " tokens (" + h.fileBytes()
                        + " bytes) but the file has " + size + " bytes; prepare the data again");
            }
            if (size > h.fileBytes()) {
                throw new InputException(path + " has " + (size - h.fileBytes()) + " bytes after its " + h.count()
                        + " tokens: not a complete palm4j shard; prepare the data again");
            }
            if (h.fileBytes() > Integer.MAX_VALUE) throw new InputException(path + " is larger than 2 GiB: prepare it with smaller shards");
            MappedByteBuffer m = ch.map(FileChannel.MapMode.READ_ONLY, ShardHeader.BYTES, size - ShardHeader.BYTES);
            return new Shard(path, h, m.order(ByteOrder.LITTLE_ENDIAN));
        } catch (NoSuchFileException e) {
            throw new InputException("shard " + path + " does not exist");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read shard " + path + ": " + e.getMessage(), e);
        }
    }

    public Path path() {
        return path;
    }

    public ShardHeader header() {
        return header;
    }

    /** Number of tokens. */
    public long size() {
        return header.count();
    }

    /** Token {@code i}. */
    public int get(long i) {
        int at = (int) (i * header.width());
        return header.width() == 2 ? body.getShort(at) & 0xFFFF : body.getInt(at);
    }

    /**
     * Copies tokens {@code [from, from + n)} into {@code dst[off..]}, checking each against the
     * vocabulary so that a corrupt shard is an error rather than an out-of-range embedding row.
     */
    public void read(long from, int[] dst, int off, int n) {
        int vocab = header.vocabSize();
        for (int k = 0; k < n; k++) {
            int id = get(from + k);
            if (id < 0 || id >= vocab) {
                throw new InputException(path + ": token " + (from + k) + " is " + Integer.toUnsignedString(id)
                        + ", outside the vocabulary of " + vocab + " (corrupt shard); prepare the data again");
            }
            dst[off + k] = id;
        }
    }
}
