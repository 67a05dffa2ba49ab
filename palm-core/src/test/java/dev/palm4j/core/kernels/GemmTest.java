package dev.palm4j.core.kernels;

import static dev.palm4j.core.kernels.TestArrays.assertClose;
import static dev.palm4j.core.kernels.TestArrays.randn;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import java.util.stream.Stream;

class GemmTest {
    private static final Parallel TWO = Parallel.of(2);
    private static final Parallel THREE = Parallel.of(3);

    @AfterAll
    static void close() {
        TWO.close();
        THREE.close();
    }

    // Awkward shapes: 1, primes, non-multiples of MR/NR/vector length, and shapes that cross
    // the KC, MC and NC cache blocks so every packing edge runs; several K blocks with B packed
    // for all of K at once, C narrow and wider than CHUNK_N, and a short A (tasks own N ranges).
    static Stream<Arguments> shapes() {
        int[][] s = {
            {1, 1, 1}, {1, 17, 5}, {1, 300, 77}, {3, 45, 130}, {4, 9, 16}, {7, 1, 3}, {5, 3, 1}, {6, 16, 8}, {13, 37, 29},
            {Gemm.MR + 1, Gemm.NR + 1, 7}, {97, 101, 103}, {Gemm.MC + 5, 2 * Gemm.NR + 3, Gemm.KC + 9},
            {31, Gemm.NC + 7, 11}, {3, 250, 2 * Gemm.KC + 1}, {7, 600, Gemm.KC + 3}, {301, 600, Gemm.KC + 3},
            {200, 64, 64},
        };
        return Arrays.stream(s).flatMap(x -> Stream.of(
                Arguments.of(x[0], x[1], x[2], false, false), Arguments.of(x[0], x[1], x[2], false, true),
                Arguments.of(x[0], x[1], x[2], true, false), Arguments.of(x[0], x[1], x[2], true, true)));
    }

    @ParameterizedTest(name = "{0}x{1}x{2} transA={3} transB={4}")
    @MethodSource("shapes")
    void matchesScalarTwinOnAwkwardShapes(int m, int n, int k, boolean ta, boolean tb) {
        Random rng = new Random(31L * m + 7L * n + k);
        // Padded strides and offsets: the kernel must honour lda/ldb/ldc, not assume dense.
        int lda = (ta ? m : k) + 3, ldb = (tb ? k : n) + 2, ldc = n + 5;
        int aRows = ta ? k : m, bRows = tb ? n : k;
        float[] a = randn(rng, 4 + aRows * lda), b = randn(rng, 1 + bRows * ldb);
        for (boolean acc : new boolean[] {false, true}) {
            float[] c0 = randn(rng, 2 + m * ldc);
            float[] want = c0.clone(), got = c0.clone();
            GemmReference.gemm(ta, tb, m, n, k, a, 4, lda, b, 1, ldb, want, 2, ldc, acc);
            Gemm.gemm(TWO, ta, tb, m, n, k, a, 4, lda, b, 1, ldb, got, 2, ldc, acc);
            double tol = 2e-6 * Math.sqrt(k) + 1e-6;
            assertClose(want, got, tol, tol * 4, "gemm " + m + "x" + n + "x" + k + " acc=" + acc);
            // Padding between rows is never written.
            for (int i = 0; i < m; i++)
                for (int j = n; j < ldc && 2 + i * ldc + j < got.length; j++)
                    assertEquals(c0[2 + i * ldc + j], got[2 + i * ldc + j], "padding written at row " + i);
        }
    }

    @Test
    void denseShorthandsAreTheThreeTrainingForms() {
        Random rng = new Random(5);
        int m = 19, n = 23, k = 41;
        float[] x = randn(rng, m * k), w = randn(rng, n * k), dy = randn(rng, m * n), wt = randn(rng, k * n);
        float[] want = new float[m * n], got = new float[m * n];
        GemmReference.gemm(false, true, m, n, k, x, 0, k, w, 0, k, want, 0, n, false);
        Gemm.matmulNT(TWO, x, 0, w, 0, got, 0, m, n, k, false);
        assertClose(want, got, 1e-5, 1e-5, "NT");
        float[] dx = new float[m * k], dxWant = new float[m * k];
        GemmReference.gemm(false, false, m, k, n, dy, 0, n, w, 0, k, dxWant, 0, k, false);
        Gemm.matmul(TWO, dy, 0, w, 0, dx, 0, m, k, n, false);
        assertClose(dxWant, dx, 1e-5, 1e-5, "NN");
        float[] dw = randn(rng, n * k), dwWant = dw.clone();
        GemmReference.gemm(true, false, n, k, m, dy, 0, n, x, 0, k, dwWant, 0, k, true);
        Gemm.matmulTN(TWO, dy, 0, x, 0, dw, 0, n, k, m, true);
        assertClose(dwWant, dw, 1e-5, 1e-5, "TN accumulate");
        assertEquals(0, wt.length - k * n);
    }

    @Test
    void resultIsBitwiseIndependentOfThreadCount() {
        Random rng = new Random(9);
        int m = 301, n = 157, k = 700; // several M blocks, an N split, three K blocks
        float[] a = randn(rng, m * k), b = randn(rng, k * n);
        float[] c1 = new float[m * n], c2 = new float[m * n], c3 = new float[m * n];
        Gemm.matmul(Parallel.SERIAL, a, 0, b, 0, c1, 0, m, n, k, false);
        Gemm.matmul(TWO, a, 0, b, 0, c2, 0, m, n, k, false);
        Gemm.matmul(THREE, a, 0, b, 0, c3, 0, m, n, k, false);
        assertArrayEquals(c1, c2);
        assertArrayEquals(c1, c3);
    }

    @Test
    void shortAPathSumsAsTheMainPath() {
        // 400 rows are five M blocks: one thread takes the main path, two the short-A path.
        Random rng = new Random(10);
        int m = 400, n = 300, k = 700;
        float[] a = randn(rng, m * k), b = randn(rng, k * n);
        float[] c1 = new float[m * n], c2 = new float[m * n];
        Gemm.matmulTN(Parallel.SERIAL, a, 0, b, 0, c1, 0, m, n, k, false);
        Gemm.matmulTN(TWO, a, 0, b, 0, c2, 0, m, n, k, false);
        assertArrayEquals(c1, c2);
    }

    @Test
    void depthBeyondOnePackingRoundPacksInRounds() {
        // K x N just over WHOLE_K floats: B is packed in two rounds of K blocks, the second of one.
        int m = 13, n = Gemm.NR, k = Gemm.WHOLE_K / Gemm.NR + 5;
        Random rng = new Random(5);
        float[] a = randn(rng, m * k), b = randn(rng, k * n), want = randn(rng, m * n);
        float[] got = want.clone(), got2 = want.clone();
        GemmReference.gemm(false, false, m, n, k, a, 0, k, b, 0, n, want, 0, n, true);
        Gemm.gemm(TWO, false, false, m, n, k, a, 0, k, b, 0, n, got, 0, n, true);
        double tol = 2e-6 * Math.sqrt(k) + 1e-6;
        assertClose(want, got, tol, tol * 4, "deep gemm");
        Gemm.gemm(THREE, false, false, m, n, k, a, 0, k, b, 0, n, got2, 0, n, true);
        assertArrayEquals(got, got2);
    }

    @Test
    void deepWideGemmRunsInColumnBlocksThatFitOnePackingRound() {
        // K x N over WHOLE_K floats: C is split into column blocks narrow enough that B is packed
        // for all of K (1024 + 19 columns here), and A is packed per column block.
        // One thread and 290 rows take the main path (four M blocks); two threads the short-A one,
        // which must sum in the same order.
        int m = 290, k = 2048, n = 1043;
        assertTrue((long) k * n > Gemm.WHOLE_K && (long) k * 1024 <= Gemm.WHOLE_K);
        Random rng = new Random(12);
        float[] a = randn(rng, m * k), b = randn(rng, k * n), want = randn(rng, m * n);
        float[] got = want.clone(), got2 = want.clone();
        GemmReference.gemm(false, false, m, n, k, a, 0, k, b, 0, n, want, 0, n, true);
        Gemm.gemm(Parallel.SERIAL, false, false, m, n, k, a, 0, k, b, 0, n, got, 0, n, true);
        double tol = 2e-6 * Math.sqrt(k) + 1e-6;
        assertClose(want, got, tol, tol * 4, "deep wide gemm");
        Gemm.gemm(TWO, false, false, m, n, k, a, 0, k, b, 0, n, got2, 0, n, true);
        assertArrayEquals(got, got2);
    }

    @Test
    void zeroDepthClearsOrKeepsC() {
        float[] c = {1, 2, 3, 4};
        Gemm.matmul(TWO, new float[0], 0, new float[0], 0, c, 0, 2, 2, 0, true);
        assertArrayEquals(new float[] {1, 2, 3, 4}, c);
        Gemm.matmul(TWO, new float[0], 0, new float[0], 0, c, 0, 2, 2, 0, false);
        assertArrayEquals(new float[4], c);
    }
}
