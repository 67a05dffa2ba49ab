package dev.palm4j.core.kernels;

import static org.junit.jupiter.api.Assertions.fail;

import java.util.Random;
import java.util.function.DoubleSupplier;

/** Shared helpers for kernel tests: random data, tolerant comparison, finite differences. */
public final class TestArrays {
    private TestArrays() {}

    /** Pools shared by the kernel tests (widths 2 and 3), never closed: daemon threads. */
    public static final Parallel TWO = Parallel.of(2), THREE = Parallel.of(3);

    /** {@code n} standard-normal floats times {@code scale}. */
    public static float[] randn(Random rng, int n, double scale) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) (rng.nextGaussian() * scale);
        return x;
    }

    public static float[] randn(Random rng, int n) {
        return randn(rng, n, 1.0);
    }

    /**
     * Fails unless every {@code |actual - expected| <= atol + rtol * |expected|}; the message
     * names the first offending index and the worst error.
     */
    public static void assertClose(float[] expected, float[] actual, double rtol, double atol, String what) {
        if (expected.length != actual.length)
            fail(what + ": length " + actual.length + " != expected " + expected.length);
        int bad = -1;
        double worst = 0;
        for (int i = 0; i < expected.length; i++) {
            double e = expected[i], a = actual[i];
            double err = Math.abs(a - e);
            if (!(err <= atol + rtol * Math.abs(e))) {
                if (bad < 0) bad = i;
                if (!(err <= worst)) worst = err;
            }
        }
        if (bad >= 0)
            fail(String.format("%s: index %d expected %.7g got %.7g (worst abs error %.3g, rtol %.1g atol %.1g)",
                    what, bad, expected[bad], actual[bad], worst, rtol, atol));
    }

    /** Same as {@link #assertClose(float[], float[], double, double, String)} over a double reference. */
    public static void assertClose(double[] expected, float[] actual, double rtol, double atol, String what) {
        float[] e = new float[expected.length];
        for (int i = 0; i < e.length; i++) e[i] = (float) expected[i];
        assertClose(e, actual, rtol, atol, what);
    }

    /**
     * Central finite difference of {@code loss} with respect to {@code x[i]}: perturbs the float
     * in place by +-eps and restores it.
     */
    public static double centralDifference(float[] x, int i, double eps, DoubleSupplier loss) {
        float saved = x[i];
        x[i] = (float) (saved + eps);
        double plus = loss.getAsDouble();
        x[i] = (float) (saved - eps);
        double minus = loss.getAsDouble();
        x[i] = saved;
        // The actual step taken in float, not the nominal one.
        double h = (double) (float) (saved + eps) - (double) (float) (saved - eps);
        return (plus - minus) / h;
    }

    /** {@code sum_i x[i] * w[i]} in double: a scalar loss that makes {@code w} the upstream gradient. */
    public static double dot(float[] x, float[] w) {
        double s = 0;
        for (int i = 0; i < x.length; i++) s += (double) x[i] * w[i];
        return s;
    }
}
