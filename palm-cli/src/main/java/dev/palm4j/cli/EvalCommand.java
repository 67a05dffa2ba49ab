package dev.palm4j.cli;

import dev.palm4j.core.InputException;
import dev.palm4j.core.io.Json;
import dev.palm4j.core.kernels.Parallel;
import dev.palm4j.core.model.ModelGroup;
import dev.palm4j.core.model.PalmModel;
import dev.palm4j.core.tokenizer.Tokenizer;
import dev.palm4j.train.Evaluation;
import dev.palm4j.train.checkpoint.Checkpoints;
import dev.palm4j.train.data.ShardLoader;
import dev.palm4j.train.data.ShardSet;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code palm eval}: a checkpoint's loss on prepared shards or on a text file. */
@Command(name = "eval",
        header = "Loss, cross-entropy and perplexity of a checkpoint on prepared data or a text file.",
        description = {
            "With --data, the validation split of a prepared directory (its train split when it has"
                + " none); with --text, the file tokenized with the checkpoint's tokenizer. Tokens are"
                + " read in order in windows of the model's context; each is predicted once.",
            "Prints: loss <x> ce <y> perplexity <z> (or one JSON object with --json).",
            "",
            "Examples:",
            "  palm eval --checkpoint runs/small --data data/cache/prepared/kjv-4096-<hash>",
            "  palm eval --checkpoint runs/small --text notes.txt --json",
        })
final class EvalCommand implements Callable<Integer> {
    @Option(names = "--checkpoint", required = true, paramLabel = "PATH", description = "A checkpoint directory or a run directory.")
    Path checkpoint;

    @ArgGroup(exclusive = true, multiplicity = "1")
    Source source;

    static final class Source {
        @Option(names = "--data", paramLabel = "DIR", description = "A prepared data directory (palm prepare).")
        Path data;

        @Option(names = "--text", paramLabel = "FILE", description = "A text file.")
        Path text;
    }

    @Option(names = "--batch", defaultValue = "8", paramLabel = "B", description = "Windows per forward pass (default: ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--json", description = "Print one JSON object instead of the text line.")
    boolean json;

    @Override
    public Integer call() throws IOException {
        BenchOptions.positive(new int[] {batch}, "--batch");
        Checkpoints.Loaded l = CheckpointArg.loadModel(checkpoint);
        var cfg = l.checkpoint().config();
        Evaluation.Result r;
        try (Parallel par = Parallel.of(Runtime.getRuntime().availableProcessors())) {
            PalmModel model = new PalmModel(cfg, par, ModelGroup.SINGLE);
            model.loadWeights(l.checkpoint().params());
            int T = cfg.maxSeqLen();
            if (source.data != null) {
                String split = ShardSet.exists(source.data, "val") ? "val" : "train";
                ShardLoader data = ShardLoader.open(source.data, split, batch, T, 0);
                if (data.vocabSize() != cfg.vocab())
                    throw new InputException(source.data + " uses a vocabulary of " + data.vocabSize() + " tokens, the model "
                            + cfg.vocab(), "evaluate on data prepared with the checkpoint's tokenizer");
                r = Evaluation.ofShards(model, data, Long.MAX_VALUE);
            } else {
                Tokenizer tok = CheckpointArg.tokenizer(l, "use --data instead");
                if (!Files.isRegularFile(source.text)) throw new InputException("no such file: " + source.text, "check the path");
                int[] ids = tok.encode(Files.readAllBytes(source.text));
                r = Evaluation.ofTokens(model, ids, batch, T);
            }
        }
        if (json) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("loss", r.loss());
            m.put("ce", r.ce());
            m.put("perplexity", r.perplexity());
            m.put("tokens", r.tokens());
            System.out.println(Json.write(m));
        } else {
            System.out.printf(Locale.ROOT, "loss %.6f ce %.6f perplexity %.4f%n", r.loss(), r.ce(), r.perplexity());
        }
        return 0;
    }
}
