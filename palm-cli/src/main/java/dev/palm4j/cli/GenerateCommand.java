package dev.palm4j.cli;

import dev.palm4j.core.generate.Generator;
import dev.palm4j.core.generate.Sampler;
import dev.palm4j.core.kernels.Parallel;
import dev.palm4j.core.model.ModelGroup;
import dev.palm4j.core.model.PalmModel;
import dev.palm4j.core.tokenizer.Tokenizer;
import dev.palm4j.train.checkpoint.Checkpoints;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code palm generate}: continue a prompt with a trained model, streaming the text to stdout. */
@Command(name = "generate",
        header = "Continue a prompt with a trained model; the continuation streams to stdout.",
        description = {
            "Loads a checkpoint (a checkpoint directory, or a run directory for its newest valid"
                + " checkpoint) and its tokenizer, prefills the prompt through the KV cache and samples"
                + " one token at a time. stdout gets only the continuation (no prompt echo, no trailing"
                + " newline); notes go to stderr. Generation stops at <eod>, at a --stop string (not"
                + " printed) or after --max-tokens.",
            "",
            "Examples:",
            "  palm generate --checkpoint runs/small --prompt \"In the beginning\"",
            "  echo \"And God said\" | palm generate --checkpoint runs/small --temperature 0",
            "  palm generate --checkpoint runs/small --prompt \"Jesus wept\" --top-k 40 --seed 7 --stop \"\\n\\n\"",
        })
final class GenerateCommand implements Callable<Integer> {
    @Option(names = "--checkpoint", required = true, paramLabel = "PATH", description = "A checkpoint directory or a run directory.")
    Path checkpoint;

    @Option(names = "--prompt", paramLabel = "TEXT", description = "The text to continue (default: read all of stdin).")
    String prompt;

    @Option(names = "--max-tokens", defaultValue = "200", paramLabel = "N", description = "Most tokens to generate (default: ${DEFAULT-VALUE}).")
    int maxTokens;

    @Option(names = "--temperature", defaultValue = "0.8", paramLabel = "T", description = "Sampling temperature; 0 is greedy (default: ${DEFAULT-VALUE}).")
    double temperature;

    @Option(names = "--top-k", defaultValue = "0", paramLabel = "K", description = "Sample among the K most likely tokens; 0 = all (default).")
    int topK;

    @Option(names = "--top-p", defaultValue = "1.0", paramLabel = "P", description = "Nucleus sampling mass; 1 = off (default).")
    double topP;

    @Option(names = "--seed", defaultValue = "0", paramLabel = "S", description = "Sampling seed: the same seed gives the same text (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--stop", paramLabel = "STRING", description = "Stop before this text (repeatable; \\n is a newline).")
    List<String> stops = new ArrayList<>();

    @Override
    public Integer call() throws IOException {
        Sampler sampler = new Sampler(temperature, topK, topP, seed); // validates the options first
        Checkpoints.Loaded l = CheckpointArg.loadModel(checkpoint);
        Tokenizer tok = CheckpointArg.tokenizer(l, "generate needs a checkpoint written by palm train on text data");
        String text = prompt != null ? prompt : new String(System.in.readAllBytes(), StandardCharsets.UTF_8);
        List<String> stopStrings = stops.stream().map(s -> s.replace("\\n", "\n").replace("\\t", "\t")).toList();
        OutputStream out = System.out;
        try (Parallel par = Parallel.of(Runtime.getRuntime().availableProcessors())) {
            PalmModel model = new PalmModel(l.checkpoint().config(), par, ModelGroup.SINGLE);
            model.loadWeights(l.checkpoint().params());
            Generator.Result r = new Generator(model, tok).generate(text, maxTokens, sampler, stopStrings, (token, bytes) -> {
                try {
                    out.write(bytes);
                    out.flush();
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
            System.err.printf(Locale.ROOT, "%npalm: %d tokens in %.2f s (%.1f tokens/s), stopped: %s; checkpoint %s%n",
                    r.tokens().length, r.seconds(), r.tokens().length / Math.max(1e-9, r.seconds()),
                    r.stop().name().toLowerCase(Locale.ROOT).replace('_', ' '), l.dir());
        }
        return 0;
    }
}
