package dev.palm4j.core.bench;

import dev.palm4j.core.kernels.Gemm;
import dev.palm4j.core.kernels.Parallel;
import dev.palm4j.core.kernels.Simd;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/** GEMM throughput on square shapes: the figure the GEMM floors are stated in. */
public final class GemmBench {
    private GemmBench() {}

    /** One measured point: {@code n x n x n} on {@code threads} threads at {@code vectorBits}. */
    public record Point(int n, int threads, int vectorBits, double gflops, int kept, int discarded) {}

    public static List<Point> run(int[] sizes, int[] threads, int samples) {
        List<Point> out = new ArrayList<>();
        for (int t : threads) {
            try (Parallel par = Parallel.of(t)) {
                for (int n : sizes) {
                    Random rng = new Random(n);
                    float[] a = new float[n * n], b = new float[n * n], c = new float[n * n];
                    for (int i = 0; i < a.length; i++) {
                        a[i] = rng.nextFloat() - 0.5f;
                        b[i] = rng.nextFloat() - 0.5f;
                    }
                    Sampler.Timing tm = Sampler.time(() -> Gemm.matmul(par, a, 0, b, 0, c, 0, n, n, n, false),
                            2.0, samples, 0.15);
                    out.add(new Point(n, t, Simd.bits(), 2.0 * n * n * n / tm.seconds() / 1e9, tm.kept(), tm.discarded()));
                }
            }
        }
        return out;
    }

    /** Child-JVM entry: prints one {@code n threads bits gflops kept discarded} line per point. */
    public static void main(String[] args) {
        String[] s = args[0].split(","), t = args[1].split(",");
        int[] sizes = new int[s.length], threads = new int[t.length];
        for (int i = 0; i < s.length; i++) sizes[i] = Integer.parseInt(s[i]);
        for (int i = 0; i < t.length; i++) threads[i] = Integer.parseInt(t[i]);
        for (Point p : run(sizes, threads, Integer.parseInt(args[2])))
            System.out.println("point " + p.n() + " " + p.threads() + " " + p.vectorBits() + " " + p.gflops() + " " + p.kept() + " " + p.discarded());
        System.exit(0);
    }
}
