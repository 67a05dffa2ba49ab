package dev.palm4j.core.kernels;

import static dev.palm4j.core.kernels.TestArrays.randn;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

class ElementwiseTest {
    static final int[] SIZES = {0, 1, 3, 7, 9, 13, 17, 33, 37, 100, 101, 512, 40_009};
    // Shared pools: their daemon threads live as long as the test JVM.
    static final Parallel p2 = TestArrays.TWO, p3 = TestArrays.THREE;

    /**
     * Every op at an offset against its plain loop, bitwise: these ops round exactly like the
     * loops below, and the scalar twin of axpy is Math.fma. Runs at the given width.
     */
    static void checkAll(Parallel par, Random rng) {
        for (int n : SIZES) {
            int o = 3;
            float[] a = randn(rng, n + o), b = randn(rng, n + o), y = randn(rng, n + o);
            String what = "n=" + n + " width=" + par.width();

            float[] out = new float[n + o], want = new float[n + o];
            Elementwise.add(par, out, o, a, o, b, o, n);
            for (int i = o; i < n + o; i++) want[i] = a[i] + b[i];
            assertArrayEquals(want, out, what + " add");

            float[] acc = y.clone();
            want = y.clone();
            Elementwise.accumulate(par, acc, o, a, o, n);
            for (int i = o; i < n + o; i++) want[i] += a[i];
            assertArrayEquals(want, acc, what + " accumulate");

            float[] ax = y.clone();
            want = y.clone();
            Elementwise.axpy(par, ax, o, -0.3f, a, o, n);
            for (int i = o; i < n + o; i++) want[i] = Math.fma(-0.3f, a[i], want[i]);
            assertArrayEquals(want, ax, what + " axpy");

            float[] sc = y.clone();
            want = y.clone();
            Elementwise.scale(par, sc, o, 1.7f, n);
            for (int i = o; i < n + o; i++) want[i] *= 1.7f;
            assertArrayEquals(want, sc, what + " scale");

            float[] res = y.clone();
            want = y.clone();
            Elementwise.residualAdd(par, res, o, a, o, b, o, n);
            for (int i = o; i < n + o; i++) want[i] = want[i] + (a[i] + b[i]);
            assertArrayEquals(want, res, what + " residualAdd");

            float[] f = y.clone();
            want = y.clone();
            Elementwise.fill(par, f, o, 2.5f, n);
            Arrays.fill(want, o, o + n, 2.5f);
            assertArrayEquals(want, f, what + " fill");
            Elementwise.zero(par, f, o, n);
            Arrays.fill(want, o, o + n, 0f);
            assertArrayEquals(want, f, what + " zero");

            float[] c = new float[n + o + 1];
            Elementwise.copy(par, c, o + 1, a, o, n);
            assertArrayEquals(Arrays.copyOfRange(a, o, o + n), Arrays.copyOfRange(c, o + 1, o + 1 + n), what + " copy");

            double ss = Elementwise.sumOfSquares(par, a, o, n);
            assertEquals(ScalarOps.sumOfSquares(a, o, n), ss, 1e-6 * Math.max(1, ss), what + " sumOfSquares");
        }
    }

    @Test
    void matchesPlainLoops() {
        checkAll(Parallel.SERIAL, new Random(1));
    }

    @Test
    void matchesPlainLoopsOnMoreThreads() {
        checkAll(p2, new Random(1));
        checkAll(p3, new Random(1));
    }

    @Test
    void overlappingCopyActsLikeArraycopy() {
        float[] x = new float[100];
        for (int i = 0; i < x.length; i++) x[i] = i;
        float[] want = x.clone();
        System.arraycopy(want, 10, want, 15, 80);
        Elementwise.copy(p2, x, 15, x, 10, 80);
        assertArrayEquals(want, x);
    }

    @Test
    void sumOfSquaresIsBitwiseIdenticalForEveryWidth() {
        Random rng = new Random(2);
        float[] x = randn(rng, 5 * Elementwise.SQ_BLOCK + 123, 3);
        double s1 = Elementwise.sumOfSquares(Parallel.SERIAL, x, 1, x.length - 1);
        assertEquals(Double.doubleToLongBits(s1), Double.doubleToLongBits(Elementwise.sumOfSquares(p2, x, 1, x.length - 1)));
        assertEquals(Double.doubleToLongBits(s1), Double.doubleToLongBits(Elementwise.sumOfSquares(p3, x, 1, x.length - 1)));
        assertEquals(ScalarOps.sumOfSquares(x, 1, x.length - 1), s1, 1e-7 * s1);
        assertEquals(0.0, Elementwise.sumOfSquares(p2, x, 0, 0));
    }
}
