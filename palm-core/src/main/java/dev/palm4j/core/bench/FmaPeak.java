package dev.palm4j.core.bench;

import dev.palm4j.core.kernels.Simd;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * Measures the machine's FP32 fused-multiply-add peak: a register-only Vector API loop with
 * enough independent accumulators to hide the FMA latency, on 1..n threads at once.
 * This is the denominator of every MFU palm4j reports.
 */
public final class FmaPeak {
    private FmaPeak() {}

    /**
     * Peak on {@code threads} threads at once: aggregate GFLOP/s, the best of the repeats;
     * {@code quiet} is false when no sample ran without another process on the CPU.
     */
    public record Result(int threads, int vectorBits, double gflops, boolean quiet) {}

    private static final VectorSpecies<Float> F = Simd.F;
    private static final int INNER = 1 << 20;

    /**
     * Runs the FMA loop on {@code threads} threads at once, {@code repeats} times for about
     * {@code seconds} in all after a warm-up, and returns the best aggregate rate.
     */
    public static Result measure(int threads, int repeats, double seconds) {
        warmUp();
        long itersPerRun = calibrate(seconds / repeats);
        // Keep quiet samples only (another process on the CPU would lower the peak and inflate
        // every MFU computed from it); after 4x as many noisy ones, take what there is.
        List<Double> quiet = new ArrayList<>(), noisy = new ArrayList<>();
        while (quiet.size() < repeats && noisy.size() < 4 * repeats) {
            Quiet.Mark m = Quiet.mark();
            double rate = runOnce(threads, itersPerRun);
            (m.foreignSince() <= Quiet.THRESHOLD ? quiet : noisy).add(rate);
        }
        // The peak is the best the hardware showed: on a shared VM the clock drifts between
        // repeats, and a median would understate what a well-tuned kernel can reach.
        List<Double> used = quiet.isEmpty() ? noisy : quiet;
        return new Result(threads, Simd.bits(), java.util.Collections.max(used), !quiet.isEmpty());
    }

    /**
     * Runs the FMA loop on the calling thread until {@code stop} is set: a neighbour that keeps
     * one core's FMA units busy and touches no memory (GemmVsNd4j's {@code --neighbour}).
     */
    public static void burn(AtomicBoolean stop) {
        float s = 0;
        while (!stop.get()) s += loop(1, 1.0f);
        sink += s;
    }

    private static void warmUp() {
        long end = System.nanoTime() + 1_500_000_000L;
        while (System.nanoTime() < end) sink += loop(1, 1.0f); // many calls: a full C2 compile, not OSR
    }

    private static long calibrate(double seconds) {
        long t0 = System.nanoTime();
        for (int i = 0; i < 16; i++) sink += loop(1, 1.0f);
        double per = (System.nanoTime() - t0) / 16.0;
        return Math.max(1, (long) (seconds * 1e9 / per));
    }

    private static double runOnce(int threads, long iters) {
        CountDownLatch start = new CountDownLatch(1);
        List<Thread> ts = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            Thread th = new Thread(() -> {
                try { start.await(); } catch (InterruptedException e) { return; }
                float s = 0;
                for (long i = 0; i < iters; i++) s += loop(1, 1.0f);
                sink += s;
            });
            th.start();
            ts.add(th);
        }
        long t0 = System.nanoTime();
        start.countDown();
        for (Thread th : ts) {
            try { th.join(); } catch (InterruptedException e) { Thread.currentThread().interrupt(); }
        }
        double sec = (System.nanoTime() - t0) / 1e9;
        // 12 accumulators x lanes x 2 flops (multiply + add) per inner iteration.
        return threads * (double) iters * INNER * 12 * F.length() * 2 / sec / 1e9;
    }

    static volatile float sink;

    // Twelve independent FMA chains: more than latency x throughput (4 x 2) so the FMA units
    // never wait on a result; everything stays in registers.
    private static float loop(long outer, float seed) {
        FloatVector m = FloatVector.broadcast(F, 0.999999f), a = FloatVector.broadcast(F, 1e-7f);
        FloatVector c0 = FloatVector.broadcast(F, seed), c1 = c0.add(1), c2 = c0.add(2), c3 = c0.add(3),
                c4 = c0.add(4), c5 = c0.add(5), c6 = c0.add(6), c7 = c0.add(7), c8 = c0.add(8),
                c9 = c0.add(9), c10 = c0.add(10), c11 = c0.add(11);
        for (long o = 0; o < outer; o++) {
            for (int i = 0; i < INNER; i += 2) { // two rounds per iteration: loop overhead stays off the FMA ports
                c0 = c0.fma(m, a); c1 = c1.fma(m, a); c2 = c2.fma(m, a); c3 = c3.fma(m, a);
                c4 = c4.fma(m, a); c5 = c5.fma(m, a); c6 = c6.fma(m, a); c7 = c7.fma(m, a);
                c8 = c8.fma(m, a); c9 = c9.fma(m, a); c10 = c10.fma(m, a); c11 = c11.fma(m, a);
                c0 = c0.fma(m, a); c1 = c1.fma(m, a); c2 = c2.fma(m, a); c3 = c3.fma(m, a);
                c4 = c4.fma(m, a); c5 = c5.fma(m, a); c6 = c6.fma(m, a); c7 = c7.fma(m, a);
                c8 = c8.fma(m, a); c9 = c9.fma(m, a); c10 = c10.fma(m, a); c11 = c11.fma(m, a);
            }
        }
        return c0.add(c1).add(c2).add(c3).add(c4).add(c5).add(c6).add(c7).add(c8).add(c9).add(c10).add(c11)
                .reduceLanes(jdk.incubator.vector.VectorOperators.ADD);
    }
}
