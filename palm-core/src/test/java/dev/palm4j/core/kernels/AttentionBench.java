package dev.palm4j.core.kernels;

import java.util.Random;
import jdk.incubator.vector.FloatVector;

/**
 * Throughput of {@link Attention} (not a test). Run after {@code mvn -pl palm-core test-compile}:
 * <pre>
 * java --add-modules jdk.incubator.vector -cp palm-core/target/classes:palm-core/target/test-classes \
 *     dev.palm4j.core.kernels.AttentionBench [threads] [B,B,..] [T,T,..] [Hq] [Hkv] [D]
 * </pre>
 * FLOPs are the causal model FLOPs: forward 4 B Hq D T^2 / 2, backward 2.5 times that (the
 * recomputation of scores in backward is not counted). Each figure is the best of several runs.
 */
public final class AttentionBench {
    public static void main(String[] args) {
        int threads = args.length > 0 ? Integer.parseInt(args[0]) : Runtime.getRuntime().availableProcessors();
        int[] Bs = ints(args.length > 1 ? args[1] : "1,2,4,8");
        int[] Ts = ints(args.length > 2 ? args[2] : "512,1024,2048");
        int Hq = args.length > 3 ? Integer.parseInt(args[3]) : 8;
        int Hkv = args.length > 4 ? Integer.parseInt(args[4]) : 1;
        int D = args.length > 5 ? Integer.parseInt(args[5]) : 64;
        Parallel par = Parallel.of(threads);
        CPU1 = CPU && threads == 1;
        System.out.printf("vector bits %d, threads %d%s, Hq %d, Hkv %d, D %d, JDK %s%n",
                Simd.bits(), threads, CPU && threads == 1 ? " (thread CPU time)" : "", Hq, Hkv, D, System.getProperty("java.version"));
        System.out.printf("FMA peak (1 thread) %.1f GFLOP/s%n", fmaPeak());
        for (int T : Ts)
            for (int B : Bs) {
                Random rng = new Random(1);
                float[] q = TestArrays.randn(rng, B * T * Hq * D), k = TestArrays.randn(rng, B * T * Hkv * D),
                        v = TestArrays.randn(rng, B * T * Hkv * D), dout = TestArrays.randn(rng, B * T * Hq * D);
                float[] out = new float[q.length], lse = new float[B * Hq * T], dq = new float[q.length],
                        dk = new float[k.length], dv = new float[k.length];
                float scale = (float) (1 / Math.sqrt(D));
                double fwdFlops = 4.0 * B * Hq * D * T * (double) T / 2;
                Runnable fwd = () -> Attention.forward(par, out, 0, lse, 0, q, 0, k, 0, v, 0,
                        B, T, T, T, 0, Hq, Hkv, D, scale);
                Runnable bwd = () -> Attention.backward(par, dq, 0, dk, 0, dv, 0, dout, 0, out, 0, lse, 0,
                        q, 0, k, 0, v, 0, B, T, T, T, 0, Hq, Hkv, D, scale);
                double tf = best(fwd, fwdFlops), tb = best(bwd, fwdFlops);
                System.out.printf("B %d T %5d  fwd %7.2f ms %6.1f GFLOP/s   bwd %7.2f ms %6.1f GFLOP/s   fwd+bwd %6.1f GFLOP/s%n",
                        B, T, tf * 1e3, fwdFlops / tf / 1e9, tb * 1e3, 2.5 * fwdFlops / tb / 1e9,
                        3.5 * fwdFlops / (tf + tb) / 1e9);
            }
        par.close();
    }

    // With one thread, -Dbench.cpu=true times by the thread's CPU time: steadier on a shared machine.
    static final boolean CPU = Boolean.getBoolean("bench.cpu");
    static boolean CPU1;
    static final java.lang.management.ThreadMXBean THREADS = java.lang.management.ManagementFactory.getThreadMXBean();

    static double best(Runnable r, double flops) {
        int reps = (int) Math.max(8, Math.min(40, 40e9 / flops));
        long warm = System.nanoTime() + 1_000_000_000L; // let C2 compile the kernels first
        do r.run(); while (System.nanoTime() < warm);
        double best = Double.MAX_VALUE;
        for (int i = 0; i < reps; i++) {
            long t0 = System.nanoTime(), c0 = CPU1 ? THREADS.getCurrentThreadCpuTime() : 0;
            r.run();
            long t = CPU1 ? THREADS.getCurrentThreadCpuTime() - c0 : System.nanoTime() - t0;
            best = Math.min(best, t * 1e-9);
        }
        return best;
    }

    // Independent FMA chains on one thread: what one core can do at best with this species.
    static double fmaPeak() {
        double best = 0;
        for (int rep = 0; rep < 30; rep++) {
            int n = 1_000_000;
            long t0 = System.nanoTime();
            float sink = fmaChains(n);
            double s = (System.nanoTime() - t0) * 1e-9;
            if (sink == 42) System.out.print("");
            best = Math.max(best, 10.0 * 2 * Simd.LANES * n / s / 1e9);
        }
        return best;
    }

    static float fmaChains(int n) {
        var F = Simd.F;
        var x = FloatVector.broadcast(F, 0.999f);
        var y = FloatVector.broadcast(F, 1e-4f);
        FloatVector c0 = FloatVector.broadcast(F, 0f), c1 = c0.add(1f), c2 = c0.add(2f), c3 = c0.add(3f),
                c4 = c0.add(4f), c5 = c0.add(5f), c6 = c0.add(6f), c7 = c0.add(7f), c8 = c0.add(8f), c9 = c0.add(9f);
        for (int i = 0; i < n; i++) {
            c0 = c0.fma(x, y); c1 = c1.fma(x, y); c2 = c2.fma(x, y); c3 = c3.fma(x, y); c4 = c4.fma(x, y);
            c5 = c5.fma(x, y); c6 = c6.fma(x, y); c7 = c7.fma(x, y); c8 = c8.fma(x, y); c9 = c9.fma(x, y);
        }
        return c0.add(c1).add(c2).add(c3).add(c4).add(c5).add(c6).add(c7).add(c8).add(c9).lane(0);
    }

    static int[] ints(String s) {
        String[] p = s.split(",");
        int[] r = new int[p.length];
        for (int i = 0; i < p.length; i++) r[i] = Integer.parseInt(p[i].trim());
        return r;
    }
}
