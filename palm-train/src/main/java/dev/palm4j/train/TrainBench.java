package dev.palm4j.train;

import dev.palm4j.core.bench.Quiet;
import dev.palm4j.core.bench.Stats;
import dev.palm4j.train.config.RunConfig;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code palm bench train}: the median time of a full training step (forward, backward,
 * clipping, optimizer) on a config, after warm-up, over quiet steps only (a step during which
 * another process used the CPU is discarded and another taken), in a throwaway run directory.
 */
public final class TrainBench {
    private TrainBench() {}

    public record Result(double stepMs, double tokensPerSecond, double mfu, double peakGflops, int timedSteps,
                         int discarded, long parameters, double flopsPerToken) {}

    public static Result run(RunConfig cfg, int warmup, int steps, TrainListener listener) {
        Path dir;
        try {
            dir = Files.createTempDirectory("palm-bench-train-");
            Files.delete(dir); // the trainer creates it
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        try (Trainer t = new Trainer(cfg, new Trainer.Options(dir, false, null, 0, "bench"), listener)) {
            Trainer.Plan plan = t.plan();
            for (int i = 0; i < warmup; i++) t.trainStep();
            List<Double> quiet = new ArrayList<>(), noisy = new ArrayList<>();
            while (quiet.size() < steps && noisy.size() < 4 * steps) {
                Quiet.Mark m = Quiet.mark();
                Trainer.StepMetrics s = t.trainStep();
                (m.foreignSince() <= Quiet.THRESHOLD ? quiet : noisy).add(s.stepSeconds());
            }
            List<Double> used = quiet.isEmpty() ? noisy : quiet;
            double sec = Stats.median(used);
            double tps = (double) cfg.train().batchSize() * cfg.train().seqLen() / sec;
            return new Result(sec * 1e3, tps, plan.flopsPerToken() * tps / (plan.peakGflops() * 1e9), plan.peakGflops(),
                    used.size(), noisy.size(), plan.parameters(), plan.flopsPerToken());
        } finally {
            deleteQuietly(dir);
        }
    }

    private static void deleteQuietly(Path dir) {
        try {
            FileTree.delete(dir);
        } catch (IOException e) {
            // a leftover temp directory is harmless
        }
    }
}
