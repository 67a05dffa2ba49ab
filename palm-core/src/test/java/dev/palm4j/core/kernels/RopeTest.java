package dev.palm4j.core.kernels;

import static dev.palm4j.core.kernels.TestArrays.assertClose;
import static dev.palm4j.core.kernels.TestArrays.centralDifference;
import static dev.palm4j.core.kernels.TestArrays.dot;
import static dev.palm4j.core.kernels.TestArrays.randn;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

class RopeTest {
    // Shared pools: their daemon threads live as long as the test JVM.
    static final Parallel p2 = TestArrays.TWO, p3 = TestArrays.THREE;

    /** Contiguous (B,T,H,D) x placed in rows of {@code stride} floats from {@code off}; padding is NaN. */
    static float[] strided(float[] x, int rows, int width, int stride, int off) {
        float[] s = new float[off + rows * stride];
        Arrays.fill(s, Float.NaN);
        for (int r = 0; r < rows; r++) System.arraycopy(x, r * width, s, off + r * stride, width);
        return s;
    }

    static float[] unstrided(float[] s, int rows, int width, int stride, int off) {
        float[] x = new float[rows * width];
        for (int r = 0; r < rows; r++) System.arraycopy(s, off + r * stride, x, r * width, width);
        return x;
    }

    @Test
    void matchesScalarOnAwkwardShapes() {
        Random rng = new Random(1);
        for (int D : new int[] {2, 6, 16, 34, 64, 128})
            for (int[] bth : new int[][] {{1, 1, 1}, {2, 7, 3}, {1, 13, 1}, {3, 1, 2}})
                for (int p0 : new int[] {0, 5, 500}) {
                    int B = bth[0], T = bth[1], H = bth[2], W = H * D, rows = B * T;
                    Rope.Table table = Rope.Table.of(600, D, Rope.DEFAULT_BASE);
                    float[] x = randn(rng, rows * W);
                    String what = "B=" + B + " T=" + T + " H=" + H + " D=" + D + " p0=" + p0;
                    // positions up to ~500 rad: table entries carry |angle| * 2^-24 rounding
                    double atol = 1e-6 * (p0 + T);
                    for (int sign : new int[] {1, -1}) {
                        double[] ref = ScalarOps.rope(x, B, T, H, D, p0, Rope.DEFAULT_BASE, sign);
                        // inside a fused row: stride W + 5 with an offset; padding must stay untouched NaN
                        int stride = W + 5, off = 2;
                        float[] s = strided(x, rows, W, stride, off);
                        if (sign > 0) Rope.forward(Parallel.SERIAL, s, off, stride, B, T, H, D, p0, table);
                        else Rope.backward(Parallel.SERIAL, s, off, stride, B, T, H, D, p0, table);
                        assertClose(ref, unstrided(s, rows, W, stride, off), 1e-5, atol, what + " sign " + sign);
                        for (int r = 0; r < rows; r++)
                            for (int j = W; j < stride && off + r * stride + j < s.length; j++)
                                assertTrue(Float.isNaN(s[off + r * stride + j]), what + ": padding written");
                    }
                }
    }

    @Test
    void positionOffsetEqualsSliceOfLongerSequence() {
        Random rng = new Random(2);
        int B = 2, T = 20, H = 3, D = 18, W = H * D;
        Rope.Table table = Rope.Table.of(64, D, 10000);
        float[] x = randn(rng, B * T * W);
        float[] full = x.clone();
        Rope.forward(Parallel.SERIAL, full, 0, W, B, T, H, D, 0, table);
        int p0 = 5, len = 7;
        for (int b = 0; b < B; b++) {
            // rows p0 .. p0+len-1 of sequence b, rotated on their own with positions starting at p0
            float[] slice = Arrays.copyOfRange(x, (b * T + p0) * W, (b * T + p0 + len) * W);
            Rope.forward(Parallel.SERIAL, slice, 0, W, 1, len, H, D, p0, table);
            assertArrayEquals(Arrays.copyOfRange(full, (b * T + p0) * W, (b * T + p0 + len) * W), slice);
        }
        // T = 1 at position p (one decoding step) equals row p of the full sequence
        float[] one = Arrays.copyOfRange(x, 11 * W, 12 * W);
        Rope.forward(Parallel.SERIAL, one, 0, W, 1, 1, H, D, 11, table);
        assertArrayEquals(Arrays.copyOfRange(full, 11 * W, 12 * W), one);
    }

    @Test
    void backwardUndoesForward() {
        Random rng = new Random(3);
        int B = 2, T = 9, H = 2, D = 34, W = H * D;
        Rope.Table table = Rope.Table.of(100, D, 10000);
        float[] x = randn(rng, B * T * W), y = x.clone();
        Rope.forward(Parallel.SERIAL, y, 0, W, B, T, H, D, 50, table);
        Rope.backward(Parallel.SERIAL, y, 0, W, B, T, H, D, 50, table);
        assertClose(x, y, 1e-6, 1e-6, "backward(forward(x))");
    }

    @Test
    void outOfPlaceEqualsInPlace() {
        Random rng = new Random(4);
        int B = 2, T = 5, H = 3, D = 10, W = H * D;
        Rope.Table table = Rope.Table.of(16, D, 10000);
        float[] x = randn(rng, B * T * W);
        for (boolean inverse : new boolean[] {false, true}) {
            float[] in = x.clone(), out = new float[3 + B * T * (W + 4)];
            if (inverse) {
                Rope.backward(Parallel.SERIAL, in, 0, W, B, T, H, D, 2, table);
                Rope.backward(Parallel.SERIAL, out, 3, W + 4, x, 0, W, B, T, H, D, 2, table);
            } else {
                Rope.forward(Parallel.SERIAL, in, 0, W, B, T, H, D, 2, table);
                Rope.forward(Parallel.SERIAL, out, 3, W + 4, x, 0, W, B, T, H, D, 2, table);
            }
            assertArrayEquals(in, unstrided(out, B * T, W, W + 4, 3));
        }
    }

    @Test
    void backwardMatchesFiniteDifferences() {
        Random rng = new Random(5);
        int B = 1, T = 4, H = 2, D = 6, W = H * D, n = B * T * W;
        Rope.Table table = Rope.Table.of(8, D, 10000);
        float[] x = randn(rng, n), G = randn(rng, n);
        java.util.function.DoubleSupplier loss = () -> {
            float[] y = x.clone();
            Rope.forward(Parallel.SERIAL, y, 0, W, B, T, H, D, 3, table);
            return dot(y, G);
        };
        float[] dx = G.clone();
        Rope.backward(Parallel.SERIAL, dx, 0, W, B, T, H, D, 3, table);
        float[] fd = new float[n];
        for (int i = 0; i < n; i++) fd[i] = (float) centralDifference(x, i, 1e-2, loss);
        assertClose(fd, dx, 1e-3, 1e-4, "rope dx vs finite differences");
    }

    @Test
    void tableValidatesItsArguments() {
        assertThrows(IllegalArgumentException.class, () -> Rope.Table.of(8, 7, 10000));
        assertThrows(IllegalArgumentException.class, () -> Rope.Table.of(0, 8, 10000));
        assertThrows(IllegalArgumentException.class, () -> Rope.Table.of(8, 8, 1.0));
        Rope.Table t = Rope.Table.of(8, 4, 10000);
        assertEquals(16, t.cos().length);
        assertEquals((float) Math.cos(3 * Math.pow(10000, -0.5)), t.cos()[3 * 2 + 1]);
        float[] x = new float[64];
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Rope.forward(Parallel.SERIAL, x, 0, 4, 1, 4, 1, 4, 5, t));
        assertTrue(e.getMessage().contains("5..8"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Rope.forward(Parallel.SERIAL, x, 0, 8, 1, 4, 1, 8, 0, t));
    }

    @Test
    void bitwiseIdenticalForEveryWidth() {
        Random rng = new Random(6);
        int B = 3, T = 200, H = 4, D = 22, W = H * D; // 600 rows: several row ranges per thread
        Rope.Table table = Rope.Table.of(256, D, 10000);
        float[] x = randn(rng, B * T * (W + 2));
        float[][] ref = null;
        for (Parallel par : new Parallel[] {Parallel.SERIAL, p2, p3}) {
            float[] y = x.clone(), dx = new float[x.length];
            Rope.forward(par, y, 0, W + 2, B, T, H, D, 7, table);
            Rope.backward(par, dx, 0, W + 2, y, 0, W + 2, B, T, H, D, 7, table);
            if (ref == null) ref = new float[][] {y, dx};
            else {
                assertArrayEquals(ref[0], y, "forward at width " + par.width());
                assertArrayEquals(ref[1], dx, "backward at width " + par.width());
            }
        }
    }
}
