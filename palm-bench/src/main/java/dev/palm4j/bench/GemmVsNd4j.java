package dev.palm4j.bench;

import dev.palm4j.core.bench.FmaPeak;
import dev.palm4j.core.bench.Sampler;
import dev.palm4j.core.kernels.Gemm;
import dev.palm4j.core.kernels.Parallel;
import dev.palm4j.core.kernels.Simd;
import java.util.Random;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * palm4j's GEMM beside ND4J's (OpenBLAS) on the same square shapes in the same process,
 * interleaved, medians of quiet samples. Run through {@code bench/gemm-vs-nd4j.sh}, which calls
 * it once with the environment as it is and once with OPENBLAS_CORETYPE set to OpenBLAS's best
 * kernel for this CPU (OpenBLAS reads the variable when it loads, hence separate JVMs).
 *
 * <p>Arguments: sizes (default 256 512 1024 2048); {@code --threads 1,2}; {@code --samples N}.
 */
public final class GemmVsNd4j {
    public static void main(String[] args) {
        int[] sizes = {256, 512, 1024, 2048};
        int[] threads = {1, 2};
        int samples = 7;
        java.util.List<Integer> given = new java.util.ArrayList<>();
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--threads" -> threads = java.util.Arrays.stream(args[++i].split(",")).mapToInt(Integer::parseInt).toArray();
                case "--samples" -> samples = Integer.parseInt(args[++i]);
                default -> given.add(Integer.parseInt(args[i]));
            }
        }
        if (!given.isEmpty()) sizes = given.stream().mapToInt(Integer::intValue).toArray();

        Nd4j.create(1); // loads the backend and OpenBLAS
        String vendor = String.valueOf(Nd4j.factory().blas().getBlasVendor());
        String env = System.getenv("OPENBLAS_CORETYPE");
        System.out.printf("# palm4j GEMM vs ND4J %s (BLAS %s, OPENBLAS_CORETYPE=%s: unset means OpenBLAS detects the CPU), JDK %s, palm4j vector %d-bit%n",
                Nd4j.getBackend().getClass().getSimpleName(), vendor, env == null ? "(unset)" : env,
                Runtime.version(), Simd.bits());
        double[] peak = new double[3];
        for (int t : threads) peak[t] = FmaPeak.measure(t, 3, 3.0).gflops();
        System.out.printf("# FMA peak: %s%n", java.util.Arrays.stream(threads)
                .mapToObj(t -> t + " thread(s) " + String.format("%.1f", peak[t]) + " GFLOP/s").toList());
        System.out.printf("%-6s %-7s %12s %12s %8s %10s%n", "size", "threads", "palm4j GF/s", "ND4J GF/s", "ratio", "palm4j/peak");
        for (int t : threads) {
            Parallel par = Parallel.of(t);
            Nd4j.factory().blas().setMaxThreads(t);
            for (int n : sizes) {
                Random rng = new Random(n);
                float[] a = new float[n * n], b = new float[n * n], c = new float[n * n];
                for (int i = 0; i < a.length; i++) { a[i] = rng.nextFloat() - 0.5f; b[i] = rng.nextFloat() - 0.5f; }
                INDArray na = Nd4j.create(a, new long[] {n, n}, 'c').castTo(DataType.FLOAT);
                INDArray nb = Nd4j.create(b, new long[] {n, n}, 'c').castTo(DataType.FLOAT);
                INDArray nc = Nd4j.create(DataType.FLOAT, new long[] {n, n}, 'c');
                double flops = 2.0 * n * n * n;
                // Interleave the two so that drifting machine state hits both alike.
                double ours = 0, theirs = 0;
                java.util.List<Double> r1 = new java.util.ArrayList<>(), r2 = new java.util.ArrayList<>();
                for (int round = 0; round < 3; round++) {
                    r1.add(flops / Sampler.time(() -> Gemm.matmul(par, a, 0, b, 0, c, 0, n, n, n, false),
                            round == 0 ? 2.0 : 0.3, samples, 0.1).seconds() / 1e9);
                    r2.add(flops / Sampler.time(() -> Nd4j.gemm(na, nb, nc, false, false, 1.0, 0.0),
                            round == 0 ? 2.0 : 0.3, samples, 0.1).seconds() / 1e9);
                }
                ours = dev.palm4j.core.bench.Stats.median(r1);
                theirs = dev.palm4j.core.bench.Stats.median(r2);
                System.out.printf("%-6d %-7d %12.1f %12.1f %7.2fx %9.0f%%%n", n, t, ours, theirs, ours / theirs, 100 * ours / peak[t]);
            }
            par.close();
        }
        System.exit(0);
    }
}
