package dev.palm4j.train;

import dev.palm4j.core.bench.Quiet;
import dev.palm4j.core.bench.Stats;
import dev.palm4j.train.config.RunConfig;
import dev.palm4j.core.model.KernelProfile;
import java.io.IOException;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;

/**
 * {@code palm bench train}: the median time of a full training step (forward, backward,
 * clipping, optimizer) on a config, after warm-up, over quiet steps only (a step during which
 * another process used the CPU is discarded and another taken), in a throwaway run directory.
 */
public final class TrainBench {
    private TrainBench() {}

    /**
     * @param kernelMs   per kernel kind, {forward, backward} milliseconds per step (device 0), mean
     *                   over the timed steps
     * @param otherMs    the rest of a step: clipping, optimizer, collectives outside the model, dispatch
     * @param allocatedMbPerStep heap allocated per step by every thread (the goal is none)
     * @param gcCount    collections during the timed steps, and {@code gcMs} their time
     */
    public record Result(double stepMs, double tokensPerSecond, double mfu, double peakGflops, int timedSteps,
                         int discarded, long parameters, double flopsPerToken, Map<KernelProfile.Op, double[]> kernelMs,
                         double otherMs, double allocatedMbPerStep, long gcCount, long gcMs) {}

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
            KernelProfile profile = new KernelProfile();
            t.profile(profile);
            long gc0 = gcCount(), gcMs0 = gcMillis(), alloc0 = allocatedBytes();
            int ran = 0;
            double totalSec = 0;
            List<Double> quiet = new ArrayList<>(), noisy = new ArrayList<>();
            while (quiet.size() < steps && noisy.size() < 4 * steps) {
                Quiet.Mark m = Quiet.mark();
                Trainer.StepMetrics s = t.trainStep();
                (m.foreignSince() <= Quiet.THRESHOLD ? quiet : noisy).add(s.stepSeconds());
                ran++;
                totalSec += s.stepSeconds();
            }
            long alloc = allocatedBytes() - alloc0, gc = gcCount() - gc0, gcMs = gcMillis() - gcMs0;
            t.profile(null);
            List<Double> used = quiet.isEmpty() ? noisy : quiet;
            double sec = Stats.median(used);
            double tps = (double) cfg.train().batchSize() * cfg.train().seqLen() / sec;
            Map<KernelProfile.Op, double[]> kernels = new EnumMap<>(KernelProfile.Op.class);
            for (KernelProfile.Op op : KernelProfile.Op.values())
                kernels.put(op, new double[] {profile.nanos(op, false) / 1e6 / ran, profile.nanos(op, true) / 1e6 / ran});
            double other = totalSec * 1e3 / ran - profile.totalNanos() / 1e6 / ran;
            return new Result(sec * 1e3, tps, plan.flopsPerToken() * tps / (plan.peakGflops() * 1e9), plan.peakGflops(),
                    used.size(), noisy.size(), plan.parameters(), plan.flopsPerToken(), kernels, other,
                    alloc / 1e6 / ran, gc, gcMs);
        } finally {
            deleteQuietly(dir);
        }
    }

    private static long gcCount() {
        long n = 0;
        for (GarbageCollectorMXBean b : ManagementFactory.getGarbageCollectorMXBeans()) n += Math.max(0, b.getCollectionCount());
        return n;
    }

    private static long gcMillis() {
        long n = 0;
        for (GarbageCollectorMXBean b : ManagementFactory.getGarbageCollectorMXBeans()) n += Math.max(0, b.getCollectionTime());
        return n;
    }

    // heap bytes allocated so far by every live thread (HotSpot's per-thread counters)
    private static long allocatedBytes() {
        if (!(ManagementFactory.getThreadMXBean() instanceof com.sun.management.ThreadMXBean mx)) return 0;
        long n = 0;
        for (long b : mx.getThreadAllocatedBytes(mx.getAllThreadIds())) n += Math.max(0, b);
        return n;
    }

    private static void deleteQuietly(Path dir) {
        try {
            FileTree.delete(dir);
        } catch (IOException e) {
            // a leftover temp directory is harmless
        }
    }
}
