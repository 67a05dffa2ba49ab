package dev.palm4j.core.kernels;

import static dev.palm4j.core.kernels.TestArrays.assertClose;
import static dev.palm4j.core.kernels.TestArrays.centralDifference;
import static dev.palm4j.core.kernels.TestArrays.dot;
import static dev.palm4j.core.kernels.TestArrays.randn;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

class SwiGluTest {
    static final int[] NS = {1, 7, 13};
    static final int[] FS = {1, 3, 9, 17, 33, 100, 512};
    // Shared pools: their daemon threads live as long as the test JVM.
    static final Parallel p2 = TestArrays.TWO, p3 = TestArrays.THREE;

    /** (N,F) rows of a packed into a fused (N,2F) buffer at offset off: a in the first half, b in the second. */
    static float[] fuse(float[] a, float[] b, int N, int F, int off) {
        float[] f = new float[off + 2 * N * F + 5];
        Arrays.fill(f, Float.NaN); // padding must never be read
        for (int n = 0; n < N; n++) {
            System.arraycopy(a, n * F, f, off + n * 2 * F, F);
            System.arraycopy(b, n * F, f, off + n * 2 * F + F, F);
        }
        return f;
    }

    static float[] half(float[] fused, int N, int F, int off, int which) {
        float[] a = new float[N * F];
        for (int n = 0; n < N; n++) System.arraycopy(fused, off + n * 2 * F + which * F, a, n * F, F);
        return a;
    }

    @Test
    void forwardAndBackwardMatchScalar() {
        Random rng = new Random(1);
        for (int N : NS)
            for (int F : FS) {
                float[] g = randn(rng, N * F, 3), u = randn(rng, N * F), dh = randn(rng, N * F);
                String what = "N=" + N + " F=" + F;
                double[] h = ScalarOps.swiglu(g, u, N, F);
                double[][] d = ScalarOps.swigluBackward(dh, g, u, N, F);

                float[] hs = new float[N * F], dg = new float[N * F], du = new float[N * F];
                SwiGlu.forward(Parallel.SERIAL, hs, 0, g, 0, u, 0, F, N, F);
                SwiGlu.backward(Parallel.SERIAL, dg, 0, du, 0, dh, 0, g, 0, u, 0, F, N, F);
                assertClose(h, hs, 1e-6, 1e-6, what + " h (separate buffers)");
                assertClose(d[0], dg, 1e-5, 1e-6, what + " dgate (separate buffers)");
                assertClose(d[1], du, 1e-6, 1e-6, what + " dup (separate buffers)");

                // fused (N,2F) projection row: gate then up, at an offset
                int off = 3;
                float[] gu = fuse(g, u, N, F, off), dgu = new float[gu.length];
                float[] hf = new float[N * F + 2];
                SwiGlu.forward(Parallel.SERIAL, hf, 2, gu, off, gu, off + F, 2 * F, N, F);
                SwiGlu.backward(Parallel.SERIAL, dgu, off, dgu, off + F, dh, 0, gu, off, gu, off + F, 2 * F, N, F);
                assertArrayEquals(hs, Arrays.copyOfRange(hf, 2, 2 + N * F), what + " fused h");
                assertArrayEquals(dg, half(dgu, N, F, off, 0), what + " fused dgate");
                assertArrayEquals(du, half(dgu, N, F, off, 1), what + " fused dup");

                // in place: the fused activation buffer becomes the fused gradient buffer
                SwiGlu.backward(Parallel.SERIAL, gu, off, gu, off + F, dh, 0, gu, off, gu, off + F, 2 * F, N, F);
                assertArrayEquals(dg, half(gu, N, F, off, 0), what + " in-place dgate");
                assertArrayEquals(du, half(gu, N, F, off, 1), what + " in-place dup");
            }
    }

    @Test
    void backwardMatchesFiniteDifferences() {
        Random rng = new Random(2);
        int N = 3, F = 19;
        float[] g = randn(rng, N * F, 2), u = randn(rng, N * F), G = randn(rng, N * F), h = new float[N * F];
        java.util.function.DoubleSupplier loss = () -> {
            SwiGlu.forward(Parallel.SERIAL, h, 0, g, 0, u, 0, F, N, F);
            return dot(h, G);
        };
        float[] dg = new float[N * F], du = new float[N * F];
        SwiGlu.backward(Parallel.SERIAL, dg, 0, du, 0, G, 0, g, 0, u, 0, F, N, F);
        float[] fdg = new float[N * F], fdu = new float[N * F];
        for (int i = 0; i < N * F; i++) {
            fdg[i] = (float) centralDifference(g, i, 1e-2, loss);
            fdu[i] = (float) centralDifference(u, i, 1e-2, loss);
        }
        assertClose(fdg, dg, 1e-2, 1e-3, "dgate vs finite differences");
        assertClose(fdu, du, 1e-2, 1e-3, "dup vs finite differences");
    }

    @Test
    void saturatesWithoutNaN() {
        float[] g = {-1000f, -100f, -20f, 0f, 20f, 100f, 1000f, -88.5f, 5f};
        float[] u = new float[g.length], h = new float[g.length], dg = new float[g.length], du = new float[g.length];
        Arrays.fill(u, 2f);
        float[] dh = u.clone();
        SwiGlu.forward(Parallel.SERIAL, h, 0, g, 0, u, 0, g.length, 1, g.length);
        SwiGlu.backward(Parallel.SERIAL, dg, 0, du, 0, dh, 0, g, 0, u, 0, g.length, 1, g.length);
        assertEquals(0f, h[0], 0f);
        assertEquals(2000f, h[6], 0f);
        assertEquals(0f, dg[0], 0f);
        assertEquals(4f, dg[6], 0f);
        for (float x : dg) assertEquals(false, Float.isNaN(x));
        for (float x : du) assertEquals(false, Float.isNaN(x));
    }

    @Test
    void rejectsShortStride() {
        float[] a = new float[64];
        assertThrows(IllegalArgumentException.class, () -> SwiGlu.forward(Parallel.SERIAL, a, 0, a, 0, a, 8, 7, 2, 8));
        assertThrows(IndexOutOfBoundsException.class, () -> SwiGlu.forward(Parallel.SERIAL, a, 0, a, 0, a, 41, 16, 2, 8));
    }

    @Test
    void bitwiseIdenticalForEveryWidth() {
        Random rng = new Random(3);
        for (int[] shape : new int[][] {{700, 37}, {9, 3000}}) {
            int N = shape[0], F = shape[1];
            float[] gu = randn(rng, 2 * N * F, 2), dh = randn(rng, N * F);
            float[][] ref = null;
            for (Parallel par : new Parallel[] {Parallel.SERIAL, p2, p3}) {
                float[] h = new float[N * F], dgu = new float[2 * N * F];
                SwiGlu.forward(par, h, 0, gu, 0, gu, F, 2 * F, N, F);
                SwiGlu.backward(par, dgu, 0, dgu, F, dh, 0, gu, 0, gu, F, 2 * F, N, F);
                if (ref == null) ref = new float[][] {h, dgu};
                else {
                    assertArrayEquals(ref[0], h, "h at width " + par.width());
                    assertArrayEquals(ref[1], dgu, "dgate/dup at width " + par.width());
                }
            }
        }
    }
}
