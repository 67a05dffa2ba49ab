package dev.palm4j.core.bench;

import dev.palm4j.core.kernels.Attention;
import dev.palm4j.core.kernels.Parallel;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/** Causal attention forward + backward time against sequence length: it should grow as T^2. */
public final class AttentionBench {
    private AttentionBench() {}

    /** One point: forward and forward+backward milliseconds and the causal model GFLOP/s. */
    public record Point(int T, int B, int heads, int kvHeads, int headDim, double forwardMs, double trainMs,
                        double forwardGflops, double trainGflops) {}

    public static List<Point> run(Parallel par, int[] lengths, int B, int heads, int kvHeads, int D, int samples) {
        List<Point> out = new ArrayList<>();
        for (int T : lengths) {
            Random rng = new Random(T);
            int qn = B * T * heads * D, kn = B * T * kvHeads * D;
            float[] q = rand(rng, qn), k = rand(rng, kn), v = rand(rng, kn), o = new float[qn], lse = new float[B * heads * T];
            float[] dout = rand(rng, qn), dq = new float[qn], dk = new float[kn], dv = new float[kn];
            float scale = (float) (1 / Math.sqrt(D));
            Runnable fwd = () -> Attention.forward(par, o, 0, lse, 0, q, 0, k, 0, v, 0, B, T, T, T, 0, heads, kvHeads, D, scale);
            Runnable both = () -> {
                fwd.run();
                Attention.backward(par, dq, 0, dk, 0, dv, 0, dout, 0, o, 0, lse, 0, q, 0, k, 0, v, 0,
                        B, T, T, T, 0, heads, kvHeads, D, scale);
            };
            // The first length also warms the JIT up: on JDK 25 the backward was not compiled
            // yet after 1.5 s (its first point read 6x slow).
            double warmup = out.isEmpty() ? 4.0 : 1.5;
            double f = Sampler.time(fwd, warmup, samples, 0.2).seconds();
            double fb = Sampler.time(both, warmup, samples, 0.3).seconds();
            // Causal: half of the T x T scores. Forward QK^T and PV: 4 B H T^2 D / 2 flops;
            // backward recomputes QK^T and does four more products: 2.5x the forward.
            double fwdFlops = 2.0 * B * heads * (double) T * T * D;
            out.add(new Point(T, B, heads, kvHeads, D, f * 1e3, fb * 1e3, fwdFlops / f / 1e9, 3.5 * fwdFlops / fb / 1e9));
        }
        return out;
    }

    private static float[] rand(Random rng, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) rng.nextGaussian();
        return x;
    }
}
