package dev.palm4j.train;

import dev.palm4j.train.config.RunConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * The training run {@link KillResumeTest} kills: args are the run directory, the corpus, the
 * cache and the step count; resumes whenever the run directory exists.
 */
public final class CrashChild {
    public static void main(String[] args) {
        Path run = Path.of(args[0]);
        RunConfig cfg = config(Path.of(args[1]), Path.of(args[2]), Integer.parseInt(args[3]));
        boolean resume = Files.isDirectory(run); // a run killed before its first checkpoint starts again
        try (Trainer t = new Trainer(cfg, new Trainer.Options(run, resume, null, 100, "crash-test"), null)) {
            t.run();
        }
        System.exit(0);
    }

    static RunConfig config(Path corpus, Path cache, int steps) {
        String yaml = """
                model: {vocab: 320, d_model: 32, n_layers: 2, n_heads: 4, n_kv_heads: 1}
                data: {source: %s, val_fraction: 0.2, cache_dir: %s}
                train: {batch_size: 4, seq_len: 32, steps: %d, eval_interval: 0, checkpoint_interval: 2,
                        keep_checkpoints: 2, seed: 11, threads: 2}
                optimizer: {kind: adamw}
                schedule: {kind: warmup_cosine, lr: 3.0e-3, warmup_steps: 2}
                """.formatted(corpus, cache, steps);
        return RunConfig.parse(yaml, "crash.yaml", List.of());
    }
}
