package dev.palm4j.bench;

import dev.palm4j.core.bench.FmaPeak;
import dev.palm4j.core.bench.Sampler;
import dev.palm4j.core.kernels.Gemm;
import dev.palm4j.core.kernels.Parallel;
import dev.palm4j.core.kernels.Simd;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * palm4j's GEMM beside ND4J's (OpenBLAS) on the same shapes in the same process, interleaved,
 * medians of quiet samples. Run through {@code bench/gemm-vs-nd4j.sh}, which calls it once with
 * the environment as it is and once with OPENBLAS_CORETYPE set to OpenBLAS's best kernel for
 * this CPU (OpenBLAS reads the variable when it loads, hence separate JVMs).
 *
 * <p>Arguments: square sizes (default 256 512 1024 2048); {@code --training}: instead, the six
 * GEMMs of an anchor-S training step (forward NT, input gradient NN, weight gradient TN, for the
 * fused input projection and the output projection); {@code --training-m}: the nine of an
 * anchor-M step (the same six, and the logits' three); {@code --threads 1,2}; {@code --samples N}.
 */
public final class GemmVsNd4j {

    /** {@code C (m,n) = op(A) . op(B)}; form is NN, NT or TN (A or B stored transposed). */
    record Shape(String form, int m, int n, int k) {
        boolean transA() {
            return form.charAt(0) == 'T';
        }

        boolean transB() {
            return form.charAt(1) == 'T';
        }

        @Override
        public String toString() {
            return form + " " + m + "x" + n + "x" + k;
        }
    }

    // anchor S: 8 x 256 tokens, d 256, fused q k v gate up 2432 wide, output projection 1280 deep.
    static final List<Shape> TRAINING = List.of(
            new Shape("NT", 2048, 2432, 256), new Shape("NN", 2048, 256, 2432), new Shape("TN", 2432, 256, 2048),
            new Shape("NT", 2048, 256, 1280), new Shape("NN", 2048, 1280, 256), new Shape("TN", 256, 1280, 2048));

    // anchor M: 8 x 512 tokens, d 512, fused input projection 4736 wide, output projection 2560
    // deep, and the logits against the tied 8192-token embedding.
    static final List<Shape> TRAINING_M = List.of(
            new Shape("NT", 4096, 4736, 512), new Shape("NN", 4096, 512, 4736), new Shape("TN", 4736, 512, 4096),
            new Shape("NT", 4096, 512, 2560), new Shape("NN", 4096, 2560, 512), new Shape("TN", 512, 2560, 4096),
            new Shape("NT", 4096, 8192, 512), new Shape("NN", 4096, 512, 8192), new Shape("TN", 8192, 512, 4096));

    public static void main(String[] args) {
        List<Shape> shapes = new ArrayList<>();
        int[] threads = {1, 2};
        int samples = 7;
        boolean training = false, trainingM = false;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--threads" -> threads = java.util.Arrays.stream(args[++i].split(",")).mapToInt(Integer::parseInt).toArray();
                case "--samples" -> samples = Integer.parseInt(args[++i]);
                case "--training" -> training = true;
                case "--training-m" -> trainingM = true;
                default -> {
                    int n = Integer.parseInt(args[i]);
                    shapes.add(new Shape("NN", n, n, n));
                }
            }
        }
        if (training) shapes.addAll(TRAINING);
        if (trainingM) shapes.addAll(TRAINING_M);
        if (shapes.isEmpty()) for (int n : new int[] {256, 512, 1024, 2048}) shapes.add(new Shape("NN", n, n, n));

        Nd4j.create(1); // loads the backend and OpenBLAS
        String vendor = String.valueOf(Nd4j.factory().blas().getBlasVendor());
        String env = System.getenv("OPENBLAS_CORETYPE");
        System.out.printf("# palm4j GEMM vs ND4J %s (BLAS %s, OPENBLAS_CORETYPE=%s: unset means OpenBLAS detects the CPU), JDK %s, palm4j vector %d-bit%n",
                Nd4j.getBackend().getClass().getSimpleName(), vendor, env == null ? "(unset)" : env,
                Runtime.version(), Simd.bits());
        double[] peak = new double[Math.max(3, java.util.Arrays.stream(threads).max().orElse(1) + 1)];
        for (int t : threads) peak[t] = FmaPeak.measure(t, 3, 3.0).gflops();
        System.out.printf("# FMA peak: %s%n", java.util.Arrays.stream(threads)
                .mapToObj(t -> t + " thread(s) " + String.format("%.1f", peak[t]) + " GFLOP/s").toList());
        System.out.printf("%-20s %-7s %12s %12s %8s %10s%n", "shape", "threads", "palm4j GF/s", "ND4J GF/s", "ratio", "palm4j/peak");
        for (int t : threads) {
            Parallel par = Parallel.of(t);
            Nd4j.factory().blas().setMaxThreads(t);
            for (Shape s : shapes) {
                int m = s.m(), n = s.n(), k = s.k();
                Random rng = new Random(m * 31L + n * 7L + k);
                float[] a = new float[m * k], b = new float[k * n], c = new float[m * n];
                for (int i = 0; i < a.length; i++) a[i] = rng.nextFloat() - 0.5f;
                for (int i = 0; i < b.length; i++) b[i] = rng.nextFloat() - 0.5f;
                int lda = s.transA() ? m : k, ldb = s.transB() ? k : n;
                INDArray na = Nd4j.create(a, s.transA() ? new long[] {k, m} : new long[] {m, k}, 'c').castTo(DataType.FLOAT);
                INDArray nb = Nd4j.create(b, s.transB() ? new long[] {n, k} : new long[] {k, n}, 'c').castTo(DataType.FLOAT);
                INDArray nc = Nd4j.create(DataType.FLOAT, new long[] {m, n}, 'c');
                double flops = 2.0 * m * n * k;
                // Interleave the two so that drifting machine state hits both alike. Each round
                // warms up first, which also outlasts OpenBLAS's workers spinning (~0.1 s) after
                // its last call.
                List<Double> r1 = new ArrayList<>(), r2 = new ArrayList<>();
                for (int round = 0; round < 3; round++) {
                    r1.add(flops / Sampler.time(() -> Gemm.gemm(par, s.transA(), s.transB(), m, n, k, a, 0, lda, b, 0, ldb, c, 0, n, false),
                            round == 0 ? 2.0 : 0.3, samples, 0.1).seconds() / 1e9);
                    r2.add(flops / Sampler.time(() -> Nd4j.gemm(na, nb, nc, s.transA(), s.transB(), 1.0, 0.0),
                            round == 0 ? 2.0 : 0.3, samples, 0.1).seconds() / 1e9);
                }
                double ours = dev.palm4j.core.bench.Stats.median(r1), theirs = dev.palm4j.core.bench.Stats.median(r2);
                System.out.printf("%-20s %-7d %12.1f %12.1f %7.2fx %9.0f%%%n", s, t, ours, theirs, ours / theirs, 100 * ours / peak[t]);
            }
            par.close();
        }
        System.exit(0);
    }
}
