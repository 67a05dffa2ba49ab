package dev.palm4j.train.data;

import dev.palm4j.core.InputException;
import dev.palm4j.core.kernels.Parallel;
import dev.palm4j.core.tokenizer.Tokenizer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.stream.Stream;

/**
 * Text to token shards (docs/data.md). Each document is tokenized (in parallel), followed by
 * {@code <eod>}, and appended to the train or the validation split. With several documents the
 * validation split holds out whole documents, picked in a seeded random order until they hold
 * {@code valFraction} of the bytes (at least one document, never all); with one document it is
 * the tail of the token stream. The directory gets {@code train-NNNNN.bin}, {@code val-NNNNN.bin},
 * a copy of the tokenizer ({@code palm-tokenizer.json}) and, written last as the mark of a
 * complete dataset, {@code dataset.json}.
 */
public final class Prepare {
    private Prepare() {}

    public static final String MANIFEST = "dataset.json";
    public static final String TOKENIZER = "palm-tokenizer.json";

    /**
     * @param valFraction share held out for validation, in [0, 1)
     * @param seed        picks the held-out documents
     * @param shardTokens most tokens per shard file
     * @param batchBytes  text read and tokenized at a time (bounds memory)
     */
    public record Options(double valFraction, long seed, long shardTokens, long batchBytes) {
        public Options {
            if (!(valFraction >= 0 && valFraction < 1)) throw new InputException("val fraction must be in [0, 1), got " + valFraction);
            if (shardTokens < 1 || batchBytes < 1) throw new InputException("shard tokens and batch bytes must be positive");
        }

        public static Options of(double valFraction) {
            return new Options(valFraction, 0, ShardWriter.DEFAULT_MAX_TOKENS, 64L << 20);
        }
    }

    /** What one split got. */
    public record Split(int documents, long tokens, List<Path> shards) {}

    public record Result(Path dir, int vocabSize, int tokenWidth, Split train, Split val) {}

    /** Prepares with {@code valFraction} and defaults, on all available processors. */
    public static Result prepare(TextSource input, Tokenizer tokenizer, Path outDir, double valFraction) {
        try (Parallel par = Parallel.of(Runtime.getRuntime().availableProcessors())) {
            return prepare(input, tokenizer, outDir, Options.of(valFraction), par);
        }
    }

    public static Result prepare(TextSource input, Tokenizer tokenizer, Path outDir, Options opt, Parallel par) {
        clear(outDir);
        int n = input.files().size();
        long[] bytes = new long[n];
        long total = 0;
        for (int i = 0; i < n; i++) total += bytes[i] = TextSource.size(input.files().get(i));
        boolean[] held = holdOut(bytes, total, opt);
        boolean tail = n == 1 && opt.valFraction() > 0;

        int vocab = tokenizer.vocabSize(), width = ShardHeader.widthFor(vocab);
        int[] eod = {tokenizer.eodId()};
        int trainDocs = 0, valDocs = 0;
        ShardWriter train = new ShardWriter(outDir, "train", vocab, width, opt.shardTokens());
        ShardWriter val = new ShardWriter(outDir, "val", vocab, width, opt.shardTokens());
        try (train; val) {
            for (int from = 0; from < n; ) { // read and tokenize a batch of documents at a time
                int to = from;
                long batch = 0;
                do batch += bytes[to++]; while (to < n && batch + bytes[to] <= opt.batchBytes());
                List<byte[]> docs = new ArrayList<>();
                for (int i = from; i < to; i++) docs.add(input.read(i));
                int[][] ids = tokenizer.encodeAll(docs, par);
                for (int i = from; i < to; i++) {
                    int[] t = ids[i - from];
                    if (tail) { // one document: the last tokens of its stream are the validation split
                        int[] s = Arrays.copyOf(t, t.length + 1);
                        s[t.length] = eod[0];
                        int cut = Math.max(1, s.length - (int) Math.max(1, Math.round(s.length * opt.valFraction())));
                        train.write(s, 0, cut);
                        val.write(s, cut, s.length);
                        trainDocs = valDocs = 1;
                        continue;
                    }
                    ShardWriter w = held[i] ? val : train;
                    w.write(t);
                    w.write(eod);
                    if (held[i]) valDocs++;
                    else trainDocs++;
                }
                from = to;
            }
        }
        Result r = new Result(outDir, vocab, width, new Split(trainDocs, train.tokens(), train.shards()),
                new Split(valDocs, val.tokens(), val.shards()));
        tokenizer.save(outDir.resolve(TOKENIZER));
        writeManifest(r, input.spec(), opt);
        return r;
    }

    /** Which documents the validation split holds out (none for one document or fraction 0). */
    static boolean[] holdOut(long[] bytes, long total, Options opt) {
        int n = bytes.length;
        boolean[] held = new boolean[n];
        if (n < 2 || opt.valFraction() == 0) return held;
        int[] order = new int[n];
        for (int i = 0; i < n; i++) order[i] = i;
        SplittableRandom rng = new SplittableRandom(opt.seed());
        for (int i = n - 1; i > 0; i--) {
            int j = rng.nextInt(i + 1), t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        long want = Math.round(total * opt.valFraction()), got = 0;
        for (int k = 0; k < n - 1 && (k == 0 || got < want); k++) {
            held[order[k]] = true;
            got += bytes[order[k]];
        }
        return held;
    }

    /** Makes {@code dir} ready: absent or empty, or a previous dataset whose files are removed. */
    private static void clear(Path dir) {
        try {
            if (!Files.exists(dir)) {
                Files.createDirectories(dir);
                return;
            }
            if (!Files.isDirectory(dir)) throw new InputException("output " + dir + " is a file, not a directory");
            List<Path> entries;
            try (Stream<Path> s = Files.list(dir)) {
                entries = s.toList();
            }
            if (entries.isEmpty()) return;
            if (!Files.exists(dir.resolve(MANIFEST))) {
                throw new InputException("output directory " + dir + " is not empty and holds no prepared dataset ("
                        + MANIFEST + "): choose an empty or new directory");
            }
            Files.delete(dir.resolve(MANIFEST)); // first: from here on the directory is incomplete
            for (Path p : entries) {
                String name = p.getFileName().toString();
                if (name.matches("(train|val)-\\d{5}\\.bin") || name.equals(TOKENIZER)) Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot prepare " + dir + ": " + e.getMessage(), e);
        }
    }

    private static void writeManifest(Result r, String source, Options opt) {
        StringBuilder s = new StringBuilder("{\n");
        s.append("  \"format\": \"palm4j-dataset\",\n  \"version\": 1,\n");
        s.append("  \"vocab_size\": ").append(r.vocabSize()).append(",\n");
        s.append("  \"token_width\": ").append(r.tokenWidth()).append(",\n");
        s.append("  \"eod_id\": 256,\n");
        s.append("  \"tokenizer\": \"").append(TOKENIZER).append("\",\n");
        s.append("  \"source\": ").append(quote(source)).append(",\n");
        s.append("  \"val_fraction\": ").append(String.format(Locale.ROOT, "%s", opt.valFraction())).append(",\n");
        s.append("  \"seed\": ").append(opt.seed()).append(",\n");
        split(s, "train", r.train());
        s.append(",\n");
        split(s, "val", r.val());
        s.append("\n}\n");
        try {
            Path tmp = r.dir().resolve(MANIFEST + ".tmp");
            Files.writeString(tmp, s);
            Files.move(tmp, r.dir().resolve(MANIFEST), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + MANIFEST + " in " + r.dir() + ": " + e.getMessage(), e);
        }
    }

    private static void split(StringBuilder s, String name, Split sp) {
        s.append("  \"").append(name).append("\": {\"documents\": ").append(sp.documents())
                .append(", \"tokens\": ").append(sp.tokens()).append(", \"shards\": [");
        for (int i = 0; i < sp.shards().size(); i++) {
            s.append(i == 0 ? "" : ", ").append(quote(sp.shards().get(i).getFileName().toString()));
        }
        s.append("]}");
    }

    private static String quote(String v) {
        StringBuilder b = new StringBuilder("\"");
        for (char c : v.toCharArray()) {
            if (c == '"' || c == '\\') b.append('\\').append(c);
            else if (c < 0x20) b.append(String.format("\\u%04x", (int) c));
            else b.append(c);
        }
        return b.append('"').toString();
    }
}
