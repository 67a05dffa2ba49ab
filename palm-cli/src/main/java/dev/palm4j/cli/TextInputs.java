package dev.palm4j.cli;

import dev.palm4j.train.data.Corpus;
import dev.palm4j.train.data.TextSource;
import java.nio.file.Path;

/** Text given on the command line: a file, a directory, a glob, or a named corpus such as {@code kjv}. */
final class TextInputs {
    private TextInputs() {}

    /** Where named corpora and prepared data are cached, relative to the working directory (DESIGN.md). */
    static final Path CACHE = Path.of("data", "cache");

    static TextSource of(String spec) {
        return Corpus.isNamed(spec) ? TextSource.of(Corpus.resolve(spec, CACHE)) : TextSource.of(spec);
    }
}
