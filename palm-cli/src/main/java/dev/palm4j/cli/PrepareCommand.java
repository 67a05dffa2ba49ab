package dev.palm4j.cli;

import dev.palm4j.core.tokenizer.Tokenizer;
import dev.palm4j.train.data.Prepare;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code palm prepare}: text to token shards ready for training. */
@Command(name = "prepare",
        header = "Tokenize text into train/validation token shards (docs/data.md).",
        description = {
            "Each file is a document; documents are joined with <eod>. With several documents the"
                + " validation split holds out whole documents, with one it takes the tail. The output"
                + " directory must be new, empty, or an earlier prepared dataset (which is replaced).",
            "",
            "Example:",
            "  palm prepare --input data/cache/kjv --tokenizer tok.json --out data/cache/kjv-shards",
        })
final class PrepareCommand implements Callable<Integer> {
    @Option(names = "--input", required = true, paramLabel = "PATH",
            description = "A text file, a directory of files, a glob, or kjv.")
    String input;

    @Option(names = "--tokenizer", required = true, paramLabel = "FILE", description = "palm-tokenizer.json")
    Path tokenizer;

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "Output directory for the shards.")
    Path out;

    @Option(names = "--val-fraction", defaultValue = "0.05", paramLabel = "F",
            description = "Share of the text held out for validation (default: ${DEFAULT-VALUE}).")
    double valFraction;

    @Override
    public Integer call() {
        long t0 = System.nanoTime();
        Prepare.Result r = Prepare.prepare(TextInputs.of(input), Tokenizer.load(tokenizer), out, valFraction);
        System.err.printf("palm: %s: train %d tokens (%d documents), val %d tokens (%d documents), uint%d ids, %.1f s%n",
                r.dir(), r.train().tokens(), r.train().documents(), r.val().tokens(), r.val().documents(),
                8 * r.tokenWidth(), (System.nanoTime() - t0) / 1e9);
        return 0;
    }
}
