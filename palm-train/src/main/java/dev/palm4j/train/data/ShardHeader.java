package dev.palm4j.train.data;

import dev.palm4j.core.InputException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/**
 * The 32-byte header of a token shard (docs/data.md), little-endian:
 * <pre>
 *   0  8  magic "PALM4JTK"
 *   8  4  version (1)
 *  12  4  token width in bytes: 2 (uint16 ids) or 4 (uint32 ids)
 *  16  4  vocab size: every id is below it
 *  20  4  reserved, 0
 *  24  8  token count
 *  32     count * width bytes of little-endian token ids
 * </pre>
 */
public record ShardHeader(int width, int vocabSize, long count) {
    public static final int BYTES = 32;
    public static final int VERSION = 1;
    static final byte[] MAGIC = "PALM4JTK".getBytes(StandardCharsets.US_ASCII);

    public ShardHeader {
        if (width != 2 && width != 4) throw new InputException("token width must be 2 or 4 bytes, got " + width);
        if (vocabSize < 1) throw new InputException("vocab size must be positive, got " + vocabSize);
        if (width == 2 && vocabSize > 65536) {
            throw new InputException("vocab size " + vocabSize + " does not fit 2-byte (uint16) token ids, which hold at most 65536 ids;"
                    + " use 4-byte ids");
        }
        if (count < 0) throw new InputException("token count must not be negative, got " + count);
    }

    /** The narrowest width that holds every id of {@code vocabSize}. */
    public static int widthFor(int vocabSize) {
        return vocabSize <= 65536 ? 2 : 4;
    }

    /** Total file size this header implies. */
    public long fileBytes() {
        return BYTES + count * width;
    }

    ByteBuffer encode() {
        ByteBuffer b = ByteBuffer.allocate(BYTES).order(ByteOrder.LITTLE_ENDIAN);
        b.put(MAGIC).putInt(VERSION).putInt(width).putInt(vocabSize).putInt(0).putLong(count);
        return b.flip();
    }

    /** Parses and checks a header; {@code what} names the file in errors. */
    static ShardHeader decode(ByteBuffer b, String what) {
        if (b.remaining() < BYTES) throw new InputException(what + " is not a palm4j token shard: it is shorter than the " + BYTES + "-byte header");
        b = b.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        byte[] magic = new byte[MAGIC.length];
        b.get(magic);
        if (!java.util.Arrays.equals(magic, MAGIC)) {
            throw new InputException(what + " is not a palm4j token shard (wrong magic; expected \"PALM4JTK\"): prepare the data again");
        }
        int version = b.getInt(), width = b.getInt(), vocab = b.getInt(), reserved = b.getInt();
        long count = b.getLong();
        if (version != VERSION)
            throw new InputException(what + ": shard version " + version + " is not supported (this palm4j reads " + VERSION + ")",
                    "prepare the data again with this palm4j");
        if (reserved != 0) throw new InputException(what + ": corrupt shard header (reserved field is " + reserved + ")", "prepare the data again");
        try {
            return new ShardHeader(width, vocab, count);
        } catch (InputException e) {
            throw new InputException(what + ": corrupt shard header: " + e.getMessage(), "prepare the data again");
        }
    }
}
