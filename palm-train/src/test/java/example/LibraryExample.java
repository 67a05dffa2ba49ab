package example;

import dev.palm4j.core.generate.Generator;
import dev.palm4j.core.generate.Sampler;
import dev.palm4j.core.kernels.Parallel;
import dev.palm4j.core.model.ModelGroup;
import dev.palm4j.core.model.PalmModel;
import dev.palm4j.core.tokenizer.Tokenizer;
import dev.palm4j.train.TrainListener;
import dev.palm4j.train.Trainer;
import dev.palm4j.train.checkpoint.Checkpoints;
import dev.palm4j.train.config.RunConfig;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** palm4j as a library: train a tiny model, load its checkpoint, generate text token by token. */
public final class LibraryExample {

    /** The loss of every training step, and the generated text. */
    public record Result(List<Double> losses, String text) {}

    public static void main(String[] args) throws Exception {
        Result r = run(Path.of(args.length > 0 ? args[0] : "library-example"));
        System.out.printf("%nloss %.3f at step 1, %.3f at step %d%n", r.losses().get(0),
                r.losses().get(r.losses().size() - 1), r.losses().size());
    }

    /** Trains in {@code work}/run (the data is cached in {@code work}/cache), then generates. */
    public static Result run(Path work) throws Exception {
        // 1. The run config: the YAML `palm train --config` reads (every key: docs/configuration.md).
        //    `synthetic` is an English-like corpus palm4j writes itself, so nothing is downloaded.
        RunConfig cfg = RunConfig.parse("""
                model: {vocab: 320, d_model: 64, n_layers: 2, n_heads: 4, n_kv_heads: 1}
                data: {source: synthetic}
                train: {batch_size: 8, seq_len: 32, steps: 40, eval_interval: 20, eval_batches: 2, seed: 1}
                schedule: {kind: warmup_cosine, lr: 1.0e-2, warmup_steps: 5}
                """, "example", List.of("data.cache_dir=" + work.resolve("cache"))); // --set style overrides

        // 2. Train. The listener's methods all have defaults: override the events you want.
        Path runDir = work.resolve("run");
        List<Double> losses = new ArrayList<>();
        TrainListener listener = new TrainListener() {
            @Override public void onStep(Trainer.StepMetrics m) {
                losses.add(m.loss());
            }

            @Override public void onEval(long step, double valLoss, double valCe) {
                System.out.printf("step %d: validation loss %.3f%n", step, valLoss);
            }
        };
        // Options: a new run directory (no resume, no initial weights); the CPU's peak GFLOP/s, used
        // only for the MFU figure (0 measures it at start, a few seconds of benchmark); a version
        // string for run.json.
        try (Trainer trainer = new Trainer(cfg, new Trainer.Options(runDir, false, null, 100, "example"), listener)) {
            trainer.run(); // trains to train.steps and writes the final checkpoint
        }

        // 3. Load the newest checkpoint of the run and the tokenizer it was trained with.
        Checkpoints.Loaded saved = Checkpoints.loadModel(runDir);
        Tokenizer tokenizer = Tokenizer.load(saved.tokenizer());

        // 4. Generate. The callback gets each token's bytes as soon as it is sampled (a token can
        //    end inside a UTF-8 character, so collect bytes and decode them at the end).
        ByteArrayOutputStream text = new ByteArrayOutputStream();
        try (Parallel par = Parallel.of(Runtime.getRuntime().availableProcessors())) {
            PalmModel model = new PalmModel(saved.checkpoint().config(), par, ModelGroup.SINGLE);
            model.loadWeights(saved.checkpoint().params());
            Sampler sampler = new Sampler(0.6, 10, 0.95, 7); // temperature, top-k, top-p, seed
            Generator.Result r = new Generator(model, tokenizer).generate("The king", 24, sampler,
                    List.of("\n\n"), // stop strings (it also stops at <eod>, after 24 tokens, or at the context's end)
                    (token, bytes) -> {
                        text.writeBytes(bytes);
                        System.out.write(bytes, 0, bytes.length); // stream it
                        System.out.flush();
                    });
            System.out.printf("%n[%d tokens, stopped: %s]%n", r.tokens().length, r.stop());
        }
        return new Result(losses, text.toString(StandardCharsets.UTF_8));
    }
}
