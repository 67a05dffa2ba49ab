package dev.palm4j.train.data;

import dev.palm4j.core.InputException;
import dev.palm4j.core.io.Json;
import dev.palm4j.core.io.JsonObject;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/** The shards of one split read as one token stream, in shard order. */
public final class ShardSet {
    private final List<Shard> shards;
    private final long[] starts; // stream offset of each shard, plus the total at the end
    private final int vocabSize;

    private ShardSet(List<Shard> shards) {
        this.shards = List.copyOf(shards);
        starts = new long[shards.size() + 1];
        for (int i = 0; i < shards.size(); i++) starts[i + 1] = starts[i] + shards.get(i).size();
        vocabSize = shards.get(0).header().vocabSize();
        for (Shard s : shards) {
            if (s.header().vocabSize() != vocabSize) {
                throw new InputException(s.path() + " has vocab size " + s.header().vocabSize() + " but " + shards.get(0).path()
                        + " has " + vocabSize + ": shards from different tokenizers");
            }
        }
    }

    /** The given shard files, in order. */
    public static ShardSet open(List<Path> files) {
        if (files.isEmpty()) throw new InputException("no shards given");
        List<Shard> shards = new ArrayList<>();
        for (Path f : files) shards.add(Shard.open(f));
        return new ShardSet(shards);
    }

    /** Split {@code split} ("train" or "val") of a directory written by {@link Prepare}. */
    public static ShardSet open(Path dir, String split) {
        if (!Files.isDirectory(dir)) throw new InputException("prepared data directory " + dir + " does not exist", "check the path; palm prepare writes one");
        if (!Files.exists(dir.resolve(Prepare.MANIFEST))) {
            throw new InputException(dir + " is not a complete prepared dataset (no " + Prepare.MANIFEST + "): prepare it again");
        }
        List<Path> files = files(dir, split);
        if (files.isEmpty()) throw new InputException(dir + " has no " + split + " shards (" + split + "-*.bin)");
        ShardSet set = open(files);
        Path manifest = dir.resolve(Prepare.MANIFEST);
        int vocab;
        try {
            vocab = JsonObject.of(Json.parse(Files.readAllBytes(manifest), manifest.toString()), manifest.toString()).intValue("vocab_size");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + manifest + ": " + e.getMessage(), e);
        }
        if (set.vocabSize() != vocab) // a damaged header would otherwise blame the model's vocab
            throw new InputException(set.shards().get(0).path() + " has a corrupt header: it says vocab size " + set.vocabSize()
                    + " but " + manifest + " says " + vocab, "prepare the data again");
        return set;
    }

    /** Whether {@code dir} has shards of {@code split}. */
    public static boolean exists(Path dir, String split) {
        return Files.isDirectory(dir) && !files(dir, split).isEmpty();
    }

    /** The {@code split-NNNNN.bin} files in {@code dir}, in order. */
    static List<Path> files(Path dir, String split) {
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> p.getFileName().toString().matches(java.util.regex.Pattern.quote(split) + "-\\d{5}\\.bin")).sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + dir + ": " + e.getMessage(), e);
        }
    }

    /** Total tokens. */
    public long size() {
        return starts[shards.size()];
    }

    public int vocabSize() {
        return vocabSize;
    }

    public List<Shard> shards() {
        return shards;
    }

    /** Copies stream tokens {@code [from, from + n)} into {@code dst[off..]}, across shard ends. */
    public void read(long from, int[] dst, int off, int n) {
        if (from < 0 || from + n > size()) throw new IndexOutOfBoundsException("tokens [" + from + ", " + (from + n) + ") of " + size());
        int s = shardOf(from);
        while (n > 0) {
            long inShard = from - starts[s];
            int take = (int) Math.min(n, shards.get(s).size() - inShard);
            shards.get(s).read(inShard, dst, off, take);
            from += take;
            off += take;
            n -= take;
            s++;
        }
    }

    private int shardOf(long pos) {
        int lo = 0, hi = shards.size() - 1; // last shard whose start <= pos, skipping empty shards
        while (lo < hi) {
            int mid = (lo + hi + 1) >>> 1;
            if (starts[mid] <= pos) lo = mid;
            else hi = mid - 1;
        }
        while (shards.get(lo).size() == 0 || pos - starts[lo] >= shards.get(lo).size()) lo++;
        return lo;
    }
}
