package dev.palm4j.bench;

import dev.palm4j.core.bench.FmaPeak;
import dev.palm4j.core.bench.Sampler;
import dev.palm4j.core.bench.Stats;
import dev.palm4j.core.kernels.Gemm;
import dev.palm4j.core.kernels.Parallel;
import dev.palm4j.core.kernels.Simd;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.atomic.AtomicBoolean;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
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
 * anchor-M step (the same six, and the logits' three); {@code --threads 1,2}; {@code --samples N};
 * {@code --neighbour}: instead of 1 and 2 threads, each GEMM on one thread while the other core
 * idles, runs FMAs in registers, streams an L3-sized or a DRAM-sized array, or runs palm4j's GEMM
 * on matrices of its own, so that a two-thread loss can be told apart from what one busy core
 * does to the other's GEMM.
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
        boolean training = false, trainingM = false, neighbour = false;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--threads" -> threads = java.util.Arrays.stream(args[++i].split(",")).mapToInt(Integer::parseInt).toArray();
                case "--samples" -> samples = Integer.parseInt(args[++i]);
                case "--training" -> training = true;
                case "--training-m" -> trainingM = true;
                case "--neighbour" -> neighbour = true;
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
        if (neighbour) {
            neighbours(shapes, samples);
            System.exit(0);
        }
        double[] peak = new double[Math.max(3, java.util.Arrays.stream(threads).max().orElse(1) + 1)];
        for (int t : threads) peak[t] = FmaPeak.measure(t, 3, 3.0).gflops();
        System.out.printf("# FMA peak: %s%n", java.util.Arrays.stream(threads)
                .mapToObj(t -> t + " thread(s) " + String.format("%.1f", peak[t]) + " GFLOP/s").toList());
        System.out.printf("%-20s %-7s %12s %12s %8s %10s%n", "shape", "threads", "palm4j GF/s", "ND4J GF/s", "ratio", "palm4j/peak");
        for (int t : threads) {
            Parallel par = Parallel.of(t);
            Nd4j.factory().blas().setMaxThreads(t);
            for (Shape s : shapes) {
                Pair p = new Pair(s, par);
                // Interleave the two so that drifting machine state hits both alike. Each round
                // warms up first, which also outlasts OpenBLAS's workers spinning (~0.1 s) after
                // its last call.
                List<Double> r1 = new ArrayList<>(), r2 = new ArrayList<>();
                for (int round = 0; round < 3; round++) {
                    r1.add(p.gflops(p::ours, round == 0 ? 2.0 : 0.3, samples));
                    r2.add(p.gflops(p::theirs, round == 0 ? 2.0 : 0.3, samples));
                }
                double ours = Stats.median(r1), theirs = Stats.median(r2);
                System.out.printf("%-20s %-7d %12.1f %12.1f %7.2fx %9.0f%%%n", s, t, ours, theirs, ours / theirs, 100 * ours / peak[t]);
            }
            par.close();
        }
        System.exit(0);
    }

    /** One shape's operands, for palm4j's GEMM and ND4J's, and how fast each runs. */
    private static final class Pair {
        final Shape s;
        final Parallel par;
        final float[] a, b, c;
        final INDArray na, nb, nc;

        Pair(Shape s, Parallel par) {
            this.s = s;
            this.par = par;
            int m = s.m(), n = s.n(), k = s.k();
            Random rng = new Random(m * 31L + n * 7L + k);
            a = new float[m * k];
            b = new float[k * n];
            c = new float[m * n];
            for (int i = 0; i < a.length; i++) a[i] = rng.nextFloat() - 0.5f;
            for (int i = 0; i < b.length; i++) b[i] = rng.nextFloat() - 0.5f;
            na = Nd4j.create(a, s.transA() ? new long[] {k, m} : new long[] {m, k}, 'c').castTo(DataType.FLOAT);
            nb = Nd4j.create(b, s.transB() ? new long[] {n, k} : new long[] {k, n}, 'c').castTo(DataType.FLOAT);
            nc = Nd4j.create(DataType.FLOAT, new long[] {m, n}, 'c');
        }

        void ours() {
            int m = s.m(), n = s.n(), k = s.k();
            Gemm.gemm(par, s.transA(), s.transB(), m, n, k, a, 0, s.transA() ? m : k, b, 0, s.transB() ? k : n, c, 0, n, false);
        }

        void theirs() {
            Nd4j.gemm(na, nb, nc, s.transA(), s.transB(), 1.0, 0.0);
        }

        /** Median GFLOP/s of quiet samples of about 0.1 s each, after {@code warmup} seconds. */
        double gflops(Runnable body, double warmup, int samples) {
            return 2.0 * s.m() * s.n() * s.k() / Sampler.time(body, warmup, samples, 0.1).seconds() / 1e9;
        }
    }

    /** What the other core does while a one-thread GEMM is timed ({@code --neighbour}). */
    private enum Load { IDLE, FMA, STREAM_8MB, STREAM_256MB, GEMM }

    private static void neighbours(List<Shape> shapes, int samples) {
        Nd4j.factory().blas().setMaxThreads(1);
        float[] l3 = new float[2 << 20], dram = new float[64 << 20]; // 8 MB fits every L3 here, 256 MB none
        java.util.Arrays.fill(l3, 1f);
        java.util.Arrays.fill(dram, 1f);
        System.out.printf("# one thread each; the other core's load changes between samples (%d rounds, medians)%n", samples);
        System.out.printf("%-20s %-13s %12s %12s %8s %13s %11s%n", "shape", "neighbour", "palm4j GF/s", "ND4J GF/s", "ratio",
                "palm4j/idle", "ND4J/idle");
        for (Shape s : shapes) {
            Pair p = new Pair(s, Parallel.SERIAL), other = new Pair(s, Parallel.SERIAL);
            p.gflops(p::ours, 2.0, 1);
            p.gflops(p::theirs, 2.0, 1);
            Map<Load, List<Double>> ours = new EnumMap<>(Load.class), theirs = new EnumMap<>(Load.class);
            // Loads take turns within a round, so drift on the host reaches every load alike.
            for (int round = 0; round < samples; round++) {
                for (Load load : Load.values()) {
                    AtomicBoolean stop = new AtomicBoolean();
                    Thread t = new Thread(() -> {
                        switch (load) {
                            case FMA -> FmaPeak.burn(stop);
                            case STREAM_8MB -> stream(l3, stop);
                            case STREAM_256MB -> stream(dram, stop);
                            case GEMM -> { while (!stop.get()) other.ours(); }
                            case IDLE -> { }
                        }
                    });
                    t.start();
                    ours.computeIfAbsent(load, x -> new ArrayList<>()).add(p.gflops(p::ours, 0.2, 3));
                    theirs.computeIfAbsent(load, x -> new ArrayList<>()).add(p.gflops(p::theirs, 0.2, 3));
                    stop.set(true);
                    try { t.join(); } catch (InterruptedException e) { Thread.currentThread().interrupt(); return; }
                }
            }
            double oursIdle = Stats.median(ours.get(Load.IDLE)), theirsIdle = Stats.median(theirs.get(Load.IDLE));
            for (Load load : Load.values()) {
                double o = Stats.median(ours.get(load)), t = Stats.median(theirs.get(load));
                System.out.printf("%-20s %-13s %12.1f %12.1f %7.2fx %12.2fx %10.2fx%n", s, load.name().toLowerCase(),
                        o, t, o / t, o / oursIdle, t / theirsIdle);
            }
        }
    }

    static volatile float sink;

    // Reads x over and over, a vector at a time, until stop is set.
    private static void stream(float[] x, AtomicBoolean stop) {
        var f = Simd.F;
        FloatVector s = FloatVector.zero(f);
        while (!stop.get()) for (int i = 0; i + f.length() <= x.length; i += f.length()) s = s.add(FloatVector.fromArray(f, x, i));
        sink += s.reduceLanes(VectorOperators.ADD);
    }
}
