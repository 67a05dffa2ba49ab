package dev.palm4j.core.kernels;

import static dev.palm4j.core.kernels.TestArrays.assertClose;
import static dev.palm4j.core.kernels.TestArrays.centralDifference;
import static dev.palm4j.core.kernels.TestArrays.randn;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

class CrossEntropyTest {
    // Shared pools: their daemon threads live as long as the test JVM.
    static final Parallel p2 = TestArrays.TWO, p3 = TestArrays.THREE;

    static int[] targets(Random rng, int N, int V, boolean someIgnored) {
        int[] t = new int[N];
        for (int n = 0; n < N; n++) t[n] = someIgnored && n % 3 == 1 ? -1 : rng.nextInt(V);
        return t;
    }

    @Test
    void matchesScalarOnAwkwardShapes() {
        Random rng = new Random(1);
        for (int N : new int[] {1, 7, 13})
            for (int V : new int[] {1, 3, 9, 17, 33, 100, 512})
                for (float z : new float[] {0f, 0.1f}) {
                    float[] logits = randn(rng, N * V, 3);
                    int[] t = targets(rng, N, V, N > 1);
                    ScalarOps.CeOut ref = ScalarOps.crossEntropy(logits, t, N, V, z, 1.0 / Math.max(1, N));
                    float scale = (float) (1.0 / Math.max(1, N));
                    float[] loss = new float[N], ce = new float[N], d = new float[N * V];
                    int counted = CrossEntropy.forwardBackward(Parallel.SERIAL, loss, 0, ce, 0, d, 0, logits, 0, t, 0, N, V, z, scale);
                    String what = "N=" + N + " V=" + V + " z=" + z;
                    assertEquals(ref.counted(), counted, what + " counted");
                    assertClose(ref.loss(), loss, 1e-5, 1e-6, what + " loss");
                    assertClose(ref.ce(), ce, 1e-5, 1e-6, what + " ce");
                    assertClose(ref.dlogits(), d, 1e-4, 1e-7, what + " dlogits");

                    // in place, at an offset, and the loss-only form
                    float[] inPlace = new float[N * V + 3];
                    System.arraycopy(logits, 0, inPlace, 3, N * V);
                    float[] loss2 = new float[N + 2];
                    CrossEntropy.forwardBackward(Parallel.SERIAL, loss2, 2, null, 0, inPlace, 3, inPlace, 3, t, 0, N, V, z, scale);
                    assertArrayEquals(d, Arrays.copyOfRange(inPlace, 3, 3 + N * V), what + " in-place dlogits");
                    assertArrayEquals(loss, Arrays.copyOfRange(loss2, 2, 2 + N), what + " in-place loss");
                    float[] loss3 = new float[N], ce3 = new float[N + 1];
                    assertEquals(counted, CrossEntropy.forward(Parallel.SERIAL, loss3, 0, ce3, 1, logits, 0, t, 0, N, V, z));
                    assertArrayEquals(loss, loss3, what + " forward-only loss");
                    assertArrayEquals(ce, Arrays.copyOfRange(ce3, 1, 1 + N), what + " forward-only ce");
                }
    }

    @Test
    void stableForHugeLogits() {
        int V = 50;
        float[] logits = new float[2 * V];
        for (int i = 0; i < V; i++) {
            logits[i] = 1000f + i;
            logits[V + i] = -1000f - i;
        }
        int[] t = {V - 1, 0};
        ScalarOps.CeOut ref = ScalarOps.crossEntropy(logits, t, 2, V, 1e-4, 0.5);
        float[] loss = new float[2], ce = new float[2], d = new float[2 * V];
        CrossEntropy.forwardBackward(Parallel.SERIAL, loss, 0, ce, 0, d, 0, logits, 0, t, 0, 2, V, 1e-4f, 0.5f);
        assertClose(ref.ce(), ce, 1e-5, 1e-6, "ce");
        assertClose(ref.loss(), loss, 1e-5, 1e-6, "loss (z * lse^2 ~ 100)");
        assertClose(ref.dlogits(), d, 1e-4, 1e-7, "dlogits");
    }

    @Test
    void zLossIsZTimesLseSquared() {
        Random rng = new Random(2);
        int N = 4, V = 37;
        float[] logits = randn(rng, N * V, 2);
        int[] t = targets(rng, N, V, false);
        float[] loss = new float[N], ce = new float[N];
        CrossEntropy.forward(Parallel.SERIAL, loss, 0, ce, 0, logits, 0, t, 0, N, V, 0.01f);
        for (int n = 0; n < N; n++) {
            double lse = ce[n] + logits[n * V + t[n]];
            assertEquals(0.01 * lse * lse, loss[n] - ce[n], 1e-5);
        }
    }

    @Test
    void gradientMatchesFiniteDifferencesOfTheMeanLoss() {
        Random rng = new Random(3);
        int N = 5, V = 23;
        float z = 0.05f; // large enough that the z-loss term shows in the gradient
        float[] logits = randn(rng, N * V, 2);
        int[] t = targets(rng, N, V, true);
        int counted = CrossEntropy.count(t, 0, N, V);
        float scale = 1f / counted;
        float[] loss = new float[N], d = new float[N * V];
        java.util.function.DoubleSupplier mean = () -> {
            CrossEntropy.forward(Parallel.SERIAL, loss, 0, null, 0, logits, 0, t, 0, N, V, z);
            return CrossEntropy.mean(loss, 0, N, counted);
        };
        CrossEntropy.forwardBackward(Parallel.SERIAL, loss, 0, null, 0, d, 0, logits, 0, t, 0, N, V, z, scale);
        float[] fd = new float[N * V];
        for (int i = 0; i < N * V; i++) fd[i] = (float) centralDifference(logits, i, 1e-2, mean);
        assertClose(fd, d, 1e-2, 2e-4, "dlogits vs finite differences of the mean loss");
    }

    @Test
    void ignoredRowsContributeNothing() {
        Random rng = new Random(4);
        int N = 6, V = 19;
        float[] logits = randn(rng, N * V);
        int[] t = {3, -1, 7, -100, 0, -1};
        float[] loss = new float[N], ce = new float[N], d = new float[N * V];
        Arrays.fill(d, 9f);
        Arrays.fill(loss, 9f);
        int counted = CrossEntropy.forwardBackward(Parallel.SERIAL, loss, 0, ce, 0, d, 0, logits, 0, t, 0, N, V, 1e-4f, 1f / 3);
        assertEquals(3, counted);
        for (int n : new int[] {1, 3, 5}) {
            assertEquals(0f, loss[n]);
            assertEquals(0f, ce[n]);
            for (int i = 0; i < V; i++) assertEquals(0f, d[n * V + i]);
        }
        // the counted rows are exactly what they are on their own
        for (int n : new int[] {0, 2, 4}) {
            float[] l1 = new float[1], d1 = new float[V];
            CrossEntropy.forwardBackward(Parallel.SERIAL, l1, 0, null, 0, d1, 0, logits, n * V, t, n, 1, V, 1e-4f, 1f / 3);
            assertEquals(l1[0], loss[n]);
            assertArrayEquals(d1, Arrays.copyOfRange(d, n * V, n * V + V));
        }
        assertEquals((loss[0] + (double) loss[2] + loss[4]) / 3, CrossEntropy.mean(loss, 0, N, counted), 1e-12);
        assertTrue(Double.isNaN(CrossEntropy.mean(new float[2], 0, 2, 0)));
    }

    @Test
    void badTargetIdIsRejectedBeforeAnythingIsWritten() {
        int N = 3, V = 10;
        float[] logits = new float[N * V], loss = new float[N], d = new float[N * V];
        Arrays.fill(d, 7f);
        int[] t = {1, 10, 2};
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> CrossEntropy.forwardBackward(Parallel.SERIAL, loss, 0, null, 0, d, 0, logits, 0, t, 0, N, V, 0f, 1f));
        assertTrue(e.getMessage().contains("10") && e.getMessage().contains("size 10") && e.getMessage().contains("row 1"),
                e.getMessage());
        for (float x : d) assertEquals(7f, x);
    }

    @Test
    void bitwiseIdenticalForEveryWidth() {
        Random rng = new Random(5);
        for (int[] shape : new int[][] {{64, 1000}, {300, 37}}) {
            int N = shape[0], V = shape[1];
            float[] logits = randn(rng, N * V, 4);
            int[] t = targets(rng, N, V, true);
            float[][] ref = null;
            double refMean = 0;
            for (Parallel par : new Parallel[] {Parallel.SERIAL, p2, p3}) {
                float[] loss = new float[N], ce = new float[N], d = new float[N * V];
                int counted = CrossEntropy.forwardBackward(par, loss, 0, ce, 0, d, 0, logits, 0, t, 0, N, V, 1e-4f, 0.01f);
                double mean = CrossEntropy.mean(loss, 0, N, counted);
                if (ref == null) {
                    ref = new float[][] {loss, ce, d};
                    refMean = mean;
                } else {
                    assertArrayEquals(ref[0], loss, "loss at width " + par.width());
                    assertArrayEquals(ref[1], ce, "ce at width " + par.width());
                    assertArrayEquals(ref[2], d, "dlogits at width " + par.width());
                    assertEquals(Double.doubleToLongBits(refMean), Double.doubleToLongBits(mean));
                }
            }
        }
    }
}
