package dev.palm4j.train.data;

import dev.palm4j.core.kernels.Parallel;
import dev.palm4j.core.tokenizer.Tokenizer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.function.Consumer;

/**
 * Text to ready shards in one call, cached: what {@code palm train} does when its data is raw
 * text or a named corpus. The cache directory's name carries a hash of everything the shards
 * depend on (each file's path, size and modification time, the vocabulary options, the split),
 * so changed text or options prepare afresh and unchanged ones are reused.
 */
public final class DataCache {
    private DataCache() {}

    /**
     * @param source      a named corpus ({@code kjv}), a file, a directory or a glob
     * @param vocabSize   tokenizer vocabulary, trained on all the source's documents
     * @param specials    special tokens besides {@code <eod>}
     * @param valFraction held out for validation
     * @param seed        picks the held-out documents
     */
    public record Spec(String source, int vocabSize, List<String> specials, double valFraction, long seed) {
        public Spec {
            specials = List.copyOf(specials);
            new Tokenizer.TrainOptions(vocabSize, specials, 2); // validates now, not after reading the text
            new Prepare.Options(valFraction, seed, 1, 1);
        }
    }

    /** A prepared dataset directory for {@code spec} under {@code cacheRoot} (e.g. data/cache). */
    public static Path ensure(Spec spec, Path cacheRoot, Parallel par, Consumer<String> log) {
        TextSource text = TextSource.of(Corpus.isNamed(spec.source()) ? Corpus.resolve(spec.source(), cacheRoot).toString() : spec.source());
        Path out = cacheRoot.resolve("prepared").resolve(slug(spec.source()) + "-" + spec.vocabSize() + "-" + key(spec, text));
        if (Files.exists(out.resolve(Prepare.MANIFEST))) return out;
        // No manifest: an earlier preparation was interrupted. The entry is palm4j's own cache,
        // so it is removed and made again rather than blocking every later run.
        if (Files.exists(out)) {
            try {
                dev.palm4j.train.FileTree.delete(out);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot clear the interrupted cache entry " + out + ": " + e.getMessage(), e);
            }
        }
        log.accept("training a " + spec.vocabSize() + "-token tokenizer on " + spec.source() + " (" + text.files().size()
                + " files, " + text.totalBytes() + " bytes)");
        Tokenizer tok = Tokenizer.train(text.readAll(), new Tokenizer.TrainOptions(spec.vocabSize(), spec.specials(), 2), par);
        Prepare.Result r = Prepare.prepare(text, tok, out, new Prepare.Options(spec.valFraction(), spec.seed(),
                ShardWriter.DEFAULT_MAX_TOKENS, 64L << 20), par);
        log.accept("prepared " + out + ": " + r.train().tokens() + " train tokens, " + r.val().tokens() + " val tokens");
        return out;
    }

    private static String slug(String source) {
        String s = source.replaceAll("[^A-Za-z0-9]+", "-").replaceAll("^-+|-+$", "");
        s = s.length() > 40 ? s.substring(s.length() - 40) : s;
        return s.isEmpty() ? "text" : s;
    }

    private static String key(Spec spec, TextSource text) {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            StringBuilder s = new StringBuilder("palm4j-data-1\n").append(spec).append('\n');
            for (Path f : text.files()) {
                s.append(f.toAbsolutePath().normalize()).append('\t').append(Files.size(f)).append('\t')
                        .append(Files.getLastModifiedTime(f).toMillis()).append('\n');
            }
            return HexFormat.of().formatHex(md.digest(s.toString().getBytes(StandardCharsets.UTF_8))).substring(0, 12);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
