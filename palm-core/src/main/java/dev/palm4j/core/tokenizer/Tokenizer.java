package dev.palm4j.core.tokenizer;

import dev.palm4j.core.InputException;
import dev.palm4j.core.kernels.Parallel;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;

/**
 * Byte-level BPE tokenizer in the way PaLM describes its vocabulary: lossless (every byte string
 * encodes, and decodes back to exactly the same bytes, whitespace and invalid UTF-8 included),
 * nothing is ever unknown (ids 0-255 are the 256 bytes), and digits are always single tokens.
 *
 * <p>Ids: {@code 0..255} the bytes, then the special tokens ({@code <eod>} first, so its id is
 * 256), then one token per learned merge in rank order. {@link #encode} never produces a special
 * token: text that spells {@code <eod>} encodes as ordinary bytes; callers add specials by id.
 *
 * <p>Instances are immutable and safe to share between threads.
 */
public final class Tokenizer {
    /** End-of-document token, always present. */
    public static final String EOD = "<eod>";

    /** Options for {@link #train}. */
    public record TrainOptions(int vocabSize, List<String> specialTokens, int minPairCount) {
        /**
         * @param vocabSize     target size including the 256 bytes and the special tokens; training
         *                      stops early when no pair occurs {@code minPairCount} times
         * @param specialTokens special tokens; {@code <eod>} is added first when missing
         * @param minPairCount  the least count a pair needs to become a merge (at least 1)
         */
        public TrainOptions {
            LinkedHashSet<String> specials = new LinkedHashSet<>();
            specials.add(EOD);
            for (String s : specialTokens) {
                if (s == null || s.isEmpty()) throw new InputException("a special token must not be empty");
                if (s.getBytes(StandardCharsets.UTF_8).length > MAX_SPECIAL_BYTES) {
                    throw new InputException("special token '" + s + "' is longer than " + MAX_SPECIAL_BYTES + " bytes");
                }
                specials.add(s);
            }
            specialTokens = List.copyOf(specials);
            int least = 256 + specialTokens.size();
            if (vocabSize < least) {
                throw new InputException("vocab size " + vocabSize + " is too small: it must be at least " + least
                        + " (256 bytes + " + specialTokens.size() + " special tokens)");
            }
            if (vocabSize > MAX_VOCAB) throw new InputException("vocab size " + vocabSize + " is above the limit of " + MAX_VOCAB);
            if (minPairCount < 1) throw new InputException("minPairCount must be at least 1, got " + minPairCount);
        }

        /** {@code vocabSize} tokens, just {@code <eod>} as special token, pairs seen at least twice. */
        public static TrainOptions of(int vocabSize) {
            return new TrainOptions(vocabSize, List.of(), 2);
        }
    }

    static final int MAX_VOCAB = 1 << 24;
    static final int MAX_SPECIAL_BYTES = 256;
    /** Bytes per parallel encoding task (documents are cut only at safe points). */
    static final int CHUNK_BYTES = 1 << 18;

    private final List<String> specials;
    private final int[][] merges; // merges[r] = {left, right}; creates id firstMerge + r
    private final int firstMerge;
    private final byte[][] tokenBytes;
    private final LongIntMap ranks;

    Tokenizer(List<String> specials, int[][] merges) {
        this.specials = List.copyOf(specials);
        this.merges = merges;
        this.firstMerge = 256 + specials.size();
        int vocab = firstMerge + merges.length;
        tokenBytes = new byte[vocab][];
        for (int i = 0; i < 256; i++) tokenBytes[i] = new byte[] {(byte) i};
        for (int i = 0; i < specials.size(); i++) tokenBytes[256 + i] = specials.get(i).getBytes(StandardCharsets.UTF_8);
        ranks = new LongIntMap(merges.length);
        for (int r = 0; r < merges.length; r++) {
            int a = merges[r][0], b = merges[r][1], id = firstMerge + r;
            if (!isMergeable(a, id) || !isMergeable(b, id)) {
                throw new InputException("merge " + r + " (" + a + ", " + b + ") refers to a token that is not a byte or an earlier merge");
            }
            long key = LongIntMap.pair(a, b);
            if (ranks.get(key, -1) >= 0) throw new InputException("merge " + r + " (" + a + ", " + b + ") appears twice");
            ranks.put(key, r);
            byte[] x = tokenBytes[a], y = tokenBytes[b];
            byte[] t = Arrays.copyOf(x, x.length + y.length);
            System.arraycopy(y, 0, t, x.length, y.length);
            tokenBytes[id] = t;
        }
    }

    private boolean isMergeable(int token, int before) {
        return token >= 0 && token < before && (token < 256 || token >= firstMerge);
    }

    /** Learns a vocabulary from documents (raw bytes; any encoding, any content). */
    public static Tokenizer train(List<byte[]> documents, TrainOptions options, Parallel par) {
        long bytes = 0;
        for (byte[] d : documents) bytes += d.length;
        if (bytes == 0) throw new InputException("no text to train the tokenizer on: the input is empty");
        int firstMerge = 256 + options.specialTokens().size();
        int[][] merges = BpeTrainer.train(documents, options.vocabSize() - firstMerge, firstMerge, options.minPairCount(), par);
        return new Tokenizer(options.specialTokens(), merges);
    }

    /** Reads a {@code palm-tokenizer.json} file; a file that is not one gives an {@link InputException}. */
    public static Tokenizer load(Path file) {
        return TokenizerFile.read(file);
    }

    /** Writes this tokenizer as {@code palm-tokenizer.json} (see docs/tokenizer.md). */
    public void save(Path file) {
        TokenizerFile.write(this, file);
    }

    /** Number of ids: 256 bytes + special tokens + merges. */
    public int vocabSize() {
        return tokenBytes.length;
    }

    /** Id of {@code <eod>}. */
    public int eodId() {
        return 256;
    }

    /** Special tokens in id order (the first has id 256). */
    public List<String> specialTokens() {
        return specials;
    }

    /** Id of a special token, e.g. {@code specialId("<eod>")}. */
    public int specialId(String token) {
        int i = specials.indexOf(token);
        if (i < 0) throw new InputException("'" + token + "' is not a special token of this tokenizer; it has " + specials);
        return 256 + i;
    }

    /** Whether {@code id} is a special token. */
    public boolean isSpecial(int id) {
        return id >= 256 && id < firstMerge;
    }

    /** The bytes token {@code id} stands for (a copy). */
    public byte[] tokenBytes(int id) {
        return checked(id).clone();
    }

    /** Number of learned merges. */
    public int mergeCount() {
        return merges.length;
    }

    /** Merge {@code rank} as {left, right}; it creates id {@code 256 + specials + rank}. */
    public int[] merge(int rank) {
        return merges[rank].clone();
    }

    /** Token ids for the UTF-8 bytes of {@code text}. */
    public int[] encode(String text) {
        return encode(text.getBytes(StandardCharsets.UTF_8));
    }

    /** Token ids for {@code bytes}; never contains a special token. */
    public int[] encode(byte[] bytes) {
        Encoder enc = new Encoder();
        enc.encode(bytes, 0, bytes.length);
        return enc.out.toArray();
    }

    /**
     * Encodes many documents on {@code par}'s threads; long documents are split at safe points
     * too, so one big file also uses every thread. The result is the same as {@link #encode} on
     * each document, for any width.
     */
    public int[][] encodeAll(List<byte[]> documents, Parallel par) {
        return encodeAll(documents, par, CHUNK_BYTES);
    }

    int[][] encodeAll(List<byte[]> documents, Parallel par, int chunkBytes) {
        List<int[]> tasks = new ArrayList<>(); // {doc, from, to}
        for (int d = 0; d < documents.size(); d++) {
            byte[] b = documents.get(d);
            int[] cuts = PreTokenizer.chunks(b, b.length, chunkBytes);
            for (int k = 0; k + 1 < cuts.length; k++) tasks.add(new int[] {d, cuts[k], cuts[k + 1]});
        }
        // One encoder (and word cache) per thread would need thread identities; one per group of
        // consecutive tasks is as good: the cache warms within the first few kilobytes.
        int groups = Math.min(tasks.size(), 4 * par.width());
        int[][] pieces = new int[tasks.size()][];
        par.forEach(groups, g -> {
            Encoder enc = new Encoder();
            for (int t = (int) ((long) tasks.size() * g / groups), end = (int) ((long) tasks.size() * (g + 1) / groups); t < end; t++) {
                int[] task = tasks.get(t);
                enc.out.size = 0;
                enc.encode(documents.get(task[0]), task[1], task[2]);
                pieces[t] = enc.out.toArray();
            }
        });
        int[][] out = new int[documents.size()][];
        IntList joined = new IntList(16);
        for (int t = 0; t < tasks.size(); ) {
            int d = tasks.get(t)[0];
            joined.size = 0;
            for (; t < tasks.size() && tasks.get(t)[0] == d; t++) joined.addAll(pieces[t], 0, pieces[t].length);
            out[d] = joined.toArray();
        }
        return out;
    }

    /** The bytes of {@code ids} concatenated; special tokens decode to their text. */
    public byte[] decode(int[] ids) {
        return decode(ids, 0, ids.length);
    }

    /** The bytes of {@code ids[from, to)}. */
    public byte[] decode(int[] ids, int from, int to) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(4 * (to - from));
        for (int i = from; i < to; i++) out.writeBytes(checked(ids[i]));
        return out.toByteArray();
    }

    /** {@link #decode} read as UTF-8 (invalid bytes become U+FFFD). */
    public String decodeToString(int[] ids) {
        return new String(decode(ids), StandardCharsets.UTF_8);
    }

    private byte[] checked(int id) {
        if (id < 0 || id >= tokenBytes.length) {
            throw new InputException("token id " + id + " is out of range: this tokenizer has ids 0 to " + (tokenBytes.length - 1));
        }
        return tokenBytes[id];
    }

    int[][] merges() {
        return merges;
    }

    /** Encodes one stretch of bytes at a time; keeps a cache of pre-tokens it has seen. */
    private final class Encoder {
        static final int CACHE_LIMIT = 1 << 18;
        final IntList out = new IntList(1024);
        ByteSliceMap cache = new ByteSliceMap();
        final IntList cached = new IntList(1024); // concatenated ids; entry e at value(e), length in lengths
        final IntList lengths = new IntList(1024);
        int[] sym = new int[PreTokenizer.MAX_BYTES];

        void encode(byte[] b, int from, int to) {
            for (int i = from, j; i < to; i = j) {
                j = PreTokenizer.next(b, i, to);
                if (j - i == 1) {
                    out.add(b[i] & 0xff);
                    continue;
                }
                int e = cache.find(b, i, j);
                if (e < 0) {
                    if (cache.size() >= CACHE_LIMIT) clearCache();
                    e = cache.add(b, i, j);
                    cache.setValue(e, cached.size);
                    int n = bpe(b, i, j);
                    cached.addAll(sym, 0, n);
                    lengths.add(n);
                }
                out.addAll(cached.a, cache.value(e), cache.value(e) + lengths.a[e]);
            }
        }

        private void clearCache() {
            cache = new ByteSliceMap();
            cached.size = 0;
            lengths.size = 0;
        }

        /** Applies merges to {@code b[from, to)} lowest rank first; leaves the tokens in sym. */
        private int bpe(byte[] b, int from, int to) {
            int n = to - from;
            int[] s = sym;
            for (int i = 0; i < n; i++) s[i] = b[from + i] & 0xff;
            while (n > 1) {
                int best = Integer.MAX_VALUE, at = -1;
                for (int i = 0; i + 1 < n; i++) {
                    int r = ranks.get(LongIntMap.pair(s[i], s[i + 1]), Integer.MAX_VALUE);
                    if (r < best) {
                        best = r;
                        at = i;
                    }
                }
                if (at < 0) break;
                int x = merges[best][0], y = merges[best][1], z = firstMerge + best, w = at;
                for (int i = at; i < n; ) {
                    if (i + 1 < n && s[i] == x && s[i + 1] == y) {
                        s[w++] = z;
                        i += 2;
                    } else {
                        s[w++] = s[i++];
                    }
                }
                n = w;
            }
            return n;
        }
    }
}
