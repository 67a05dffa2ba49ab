package dev.palm4j.train.checkpoint;

import dev.palm4j.train.checkpoint.CheckpointState.FileSum;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.zip.CRC32C;

/**
 * The few file-system moves that make a checkpoint crash-safe: write a new file while summing it,
 * force it to disk, force a directory's entries to disk, rename atomically.
 *
 * <p>Why each step: data written but not forced may still be in the page cache when power fails;
 * a rename is durable only once its directory is forced; and only a rename (never a copy) makes a
 * whole directory or file appear at once under its real name.
 */
final class DurableFiles {
    private DurableFiles() {}

    /** What a file's content is written by. */
    interface Body {
        void write(WritableByteChannel out) throws IOException;
    }

    /** Creates {@code file} (it must not exist), writes it, forces it, returns its length and CRC32C. */
    static FileSum write(Path file, Body body) throws IOException {
        return write(file, body, Long.MAX_VALUE);
    }

    /**
     * Like {@link #write(Path, Body)} on a disk with only {@code room} bytes free: a write past
     * them stores what fits and fails as a full disk does ("No space left on device"). Tests
     * use it to stand in for a full disk; production passes {@code Long.MAX_VALUE}.
     */
    static FileSum write(Path file, Body body, long room) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            Summing out = new Summing(ch, room);
            body.write(out);
            ch.force(true);
            return new FileSum(out.bytes, (int) out.crc.getValue());
        }
    }

    /** Length and CRC32C of an existing file, streamed. */
    static FileSum sum(Path file) throws IOException {
        CRC32C crc = new CRC32C();
        long bytes = 0;
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            ByteBuffer buf = ByteBuffer.allocateDirect(1 << 20);
            while (ch.read(buf.clear()) >= 0) {
                buf.flip();
                bytes += buf.remaining();
                crc.update(buf);
            }
        }
        return new FileSum(bytes, (int) crc.getValue());
    }

    /** Writes {@code bytes}. */
    static Body bytes(byte[] bytes) {
        return out -> {
            ByteBuffer buf = ByteBuffer.wrap(bytes);
            while (buf.hasRemaining()) out.write(buf);
        };
    }

    /** Copies {@code from} into a writer body. */
    static Body copyOf(Path from) {
        return out -> {
            try (FileChannel in = FileChannel.open(from, StandardOpenOption.READ)) {
                ByteBuffer buf = ByteBuffer.allocateDirect(1 << 20);
                while (in.read(buf.clear()) >= 0) {
                    buf.flip();
                    while (buf.hasRemaining()) out.write(buf);
                }
            }
        };
    }

    /** Forces a directory's entries (creations, renames) to disk. */
    static void forceDirectory(Path dir) throws IOException {
        if (System.getProperty("os.name", "").startsWith("Windows")) return; // cannot open a directory there
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        }
    }

    /** Renames in one step: readers see the old name's content or the new, never a mixture. */
    static void rename(Path from, Path to) throws IOException {
        Files.move(from, to, StandardCopyOption.ATOMIC_MOVE);
    }

    /** Deletes a file or a directory tree; a missing one is fine. */
    static void deleteTree(Path p) throws IOException {
        dev.palm4j.train.FileTree.delete(p);
    }

    /** Sum of the sizes of the regular files under {@code dir} (0 when it does not exist). */
    static long treeBytes(Path dir) throws IOException {
        if (!Files.exists(dir)) return 0;
        long[] total = {0};
        Files.walkFileTree(dir, new SimpleFileVisitor<>() {
            @Override public FileVisitResult visitFile(Path f, BasicFileAttributes a) {
                if (a.isRegularFile()) total[0] += a.size();
                return FileVisitResult.CONTINUE;
            }

            @Override public FileVisitResult visitFileFailed(Path f, IOException e) throws IOException {
                if (e instanceof NoSuchFileException) return FileVisitResult.CONTINUE; // deleted meanwhile
                throw e;
            }
        });
        return total[0];
    }

    /** A channel that sums and counts what passes through it, and fails past {@code room} bytes. */
    private static final class Summing implements WritableByteChannel {
        final WritableByteChannel ch;
        final CRC32C crc = new CRC32C();
        final long room;
        long bytes;

        Summing(WritableByteChannel ch, long room) {
            this.ch = ch;
            this.room = room;
        }

        @Override public int write(ByteBuffer src) throws IOException {
            if (src.remaining() > room - bytes) { // a full disk: what fits is written, then ENOSPC
                int fits = (int) Math.max(0, room - bytes);
                ByteBuffer part = src.duplicate();
                part.limit(part.position() + fits);
                while (part.hasRemaining()) ch.write(part);
                throw new IOException("No space left on device");
            }
            ByteBuffer seen = src.duplicate();
            int n = ch.write(src);
            seen.limit(seen.position() + n);
            crc.update(seen);
            bytes += n;
            return n;
        }

        @Override public boolean isOpen() {
            return ch.isOpen();
        }

        @Override public void close() throws IOException {
            ch.close();
        }
    }
}
