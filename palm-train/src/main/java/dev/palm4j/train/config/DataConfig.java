package dev.palm4j.train.config;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.palm4j.core.InputException;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.List;

/**
 * The {@code data:} section: where the tokens come from. Paths are relative to the working
 * directory the run starts in (not to the config file), like every path on palm's command line.
 *
 * @param source      {@code random} (uniform seeded tokens in [0, model.vocab), for benchmarks
 *                    and the anchors), a named corpus palm4j builds itself ({@code kjv}), a
 *                    directory of prepared shards (it holds {@code dataset.json}), or raw text:
 *                    a file, a directory or a glob ({@code texts/*.txt}); raw text and corpora
 *                    are tokenized and sharded on first use and cached under {@code cacheDir}
 * @param vocabSize   the tokenizer's vocabulary when one is trained on text; always equal to
 *                    model.vocab (each defaults to the other)
 * @param valFraction share of the text held out for validation (whole documents where there are
 *                    several), in [0, 1)
 * @param splitSeed   picks the held-out documents
 * @param specials    special tokens added to a trained tokenizer besides {@code <eod>}
 * @param cacheDir    where corpora, trained tokenizers and prepared shards are cached
 */
public record DataConfig(String source, int vocabSize, double valFraction, long splitSeed, List<String> specials,
                         Path cacheDir) {

    static final List<String> KEYS = List.of("source", "vocab_size", "val_fraction", "split_seed", "specials", "cache_dir");

    /** The source names that are not paths. Corpora are built by the data pipeline (Corpus). */
    public static final String RANDOM = "random";
    public static final List<String> CORPORA = dev.palm4j.train.data.Corpus.NAMES;

    /** What {@link #source()} names; a path's files decide between shards and text at run time. */
    public enum SourceKind { RANDOM, CORPUS, PATH }

    public DataConfig {
        Check.notNull("data.source", source);
        if (source.isBlank()) throw new InputException("data.source is empty",
                "use random, " + String.join(", ", CORPORA) + ", a prepared shard directory, or a text file, directory or glob");
        Check.atLeast("data.vocab_size", vocabSize, 1);
        Check.range("data.val_fraction", valFraction, 0, 1, true);
        Check.notNull("data.specials", specials);
        specials = List.copyOf(specials);
        for (String s : specials)
            if (s.isEmpty()) throw new InputException("data.specials holds an empty string", "a special token needs text");
        Check.notNull("data.cache_dir", cacheDir);
    }

    public SourceKind sourceKind() {
        return source.equals(RANDOM) ? SourceKind.RANDOM : CORPORA.contains(source) ? SourceKind.CORPUS : SourceKind.PATH;
    }

    static DataConfig read(Keys in, int vocabSize) {
        return new DataConfig(in.string("source"), vocabSize, in.number("val_fraction", 0.05), in.int64("split_seed", 0),
                in.strings("specials", List.of()), path(in, "cache_dir", "data/cache"));
    }

    private static Path path(Keys in, String key, String def) {
        String s = in.string(key, def);
        try {
            return Path.of(s);
        } catch (InvalidPathException e) {
            throw new InputException(in.dotted(key) + " = '" + s + "' is not a valid path: " + e.getReason(), null);
        }
    }

    void write(ObjectNode out) {
        out.put("source", source).put("vocab_size", vocabSize).put("val_fraction", valFraction).put("split_seed", splitSeed);
        specials.forEach(out.putArray("specials")::add);
        out.put("cache_dir", cacheDir.toString());
    }
}
