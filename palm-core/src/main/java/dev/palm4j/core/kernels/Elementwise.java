package dev.palm4j.core.kernels;

import static dev.palm4j.core.kernels.Simd.F;
import static dev.palm4j.core.kernels.Simd.LANES;

import java.util.Arrays;
import java.util.Objects;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

/**
 * Flat elementwise ops over {@code n} floats. Each element's result is computed by the same
 * float operations whether it lands in a vector or in a scalar tail (fma where the vector path
 * uses fma), so splitting the range across any number of threads gives the same bits. Output
 * regions may be the same as input regions (in place), never a partial overlap.
 */
public final class Elementwise {
    private Elementwise() {}

    /** Fewest elements worth handing to another thread. */
    static final int GRAIN = 1 << 14;

    /** Elements per partial sum in {@link #sumOfSquares}: fixed, so the sum order never depends on threads. */
    static final int SQ_BLOCK = 1 << 14;

    private static final ThreadLocal<double[]> PARTIALS = ThreadLocal.withInitial(() -> new double[0]);

    // a (n), b (n) -> out (n) = a + b
    public static void add(Parallel par, float[] out, int outOff, float[] a, int aOff, float[] b, int bOff, int n) {
        check(out, outOff, n);
        check(a, aOff, n);
        check(b, bOff, n);
        par.forRange(n, GRAIN, (lo, hi) -> {
            int i = lo;
            for (int bound = lo + F.loopBound(hi - lo); i < bound; i += LANES)
                FloatVector.fromArray(F, a, aOff + i).add(FloatVector.fromArray(F, b, bOff + i)).intoArray(out, outOff + i);
            for (; i < hi; i++) out[outOff + i] = a[aOff + i] + b[bOff + i];
        });
    }

    // x (n) -> y (n) += x
    public static void accumulate(Parallel par, float[] y, int yOff, float[] x, int xOff, int n) {
        add(par, y, yOff, y, yOff, x, xOff, n);
    }

    // x (n) -> y (n) += alpha * x, one rounding per element (fma)
    public static void axpy(Parallel par, float[] y, int yOff, float alpha, float[] x, int xOff, int n) {
        check(y, yOff, n);
        check(x, xOff, n);
        par.forRange(n, GRAIN, (lo, hi) -> {
            FloatVector va = FloatVector.broadcast(F, alpha);
            int i = lo;
            for (int bound = lo + F.loopBound(hi - lo); i < bound; i += LANES)
                FloatVector.fromArray(F, x, xOff + i).fma(va, FloatVector.fromArray(F, y, yOff + i)).intoArray(y, yOff + i);
            for (; i < hi; i++) y[yOff + i] = Math.fma(x[xOff + i], alpha, y[yOff + i]);
        });
    }

    // x (n) -> x (n) *= s
    public static void scale(Parallel par, float[] x, int xOff, float s, int n) {
        check(x, xOff, n);
        par.forRange(n, GRAIN, (lo, hi) -> {
            int i = lo;
            for (int bound = lo + F.loopBound(hi - lo); i < bound; i += LANES)
                FloatVector.fromArray(F, x, xOff + i).mul(s).intoArray(x, xOff + i);
            for (; i < hi; i++) x[xOff + i] *= s;
        });
    }

    // a (n), b (n) -> x (n) += (a + b): both branches of a parallel block into the residual stream
    public static void residualAdd(Parallel par, float[] x, int xOff, float[] a, int aOff, float[] b, int bOff, int n) {
        check(x, xOff, n);
        check(a, aOff, n);
        check(b, bOff, n);
        par.forRange(n, GRAIN, (lo, hi) -> {
            int i = lo;
            for (int bound = lo + F.loopBound(hi - lo); i < bound; i += LANES) {
                FloatVector ab = FloatVector.fromArray(F, a, aOff + i).add(FloatVector.fromArray(F, b, bOff + i));
                FloatVector.fromArray(F, x, xOff + i).add(ab).intoArray(x, xOff + i);
            }
            for (; i < hi; i++) x[xOff + i] += a[aOff + i] + b[bOff + i];
        });
    }

    // x (n) = value
    public static void fill(Parallel par, float[] x, int off, float value, int n) {
        check(x, off, n);
        par.forRange(n, 4 * GRAIN, (lo, hi) -> Arrays.fill(x, off + lo, off + hi, value));
    }

    // x (n) = 0
    public static void zero(Parallel par, float[] x, int off, int n) {
        fill(par, x, off, 0f, n);
    }

    // src (n) -> dst (n); overlapping regions of one array are copied as by System.arraycopy
    public static void copy(Parallel par, float[] dst, int dstOff, float[] src, int srcOff, int n) {
        check(dst, dstOff, n);
        check(src, srcOff, n);
        if (dst == src && Math.abs(dstOff - srcOff) < n) {
            System.arraycopy(src, srcOff, dst, dstOff, n);
            return;
        }
        par.forRange(n, 4 * GRAIN, (lo, hi) -> System.arraycopy(src, srcOff + lo, dst, dstOff + lo, hi - lo));
    }

    /**
     * sum of x[i]^2 in double, for global-norm clipping. Each block of {@link #SQ_BLOCK} floats
     * is summed on its own (float vector lanes per 256 floats, then double), and the block sums
     * are added in block order: bitwise the same for every thread count.
     *
     * <p>Scratch: one double per block, in a buffer owned by the calling thread and grown on first use.
     */
    public static double sumOfSquares(Parallel par, float[] x, int off, int n) {
        check(x, off, n);
        if (n == 0) return 0.0;
        int blocks = (n + SQ_BLOCK - 1) / SQ_BLOCK;
        double[] partial = PARTIALS.get();
        if (partial.length < blocks) PARTIALS.set(partial = new double[blocks]);
        double[] p = partial;
        par.forEach(blocks, k -> {
            int lo = k * SQ_BLOCK, hi = Math.min(n, lo + SQ_BLOCK);
            double s = 0;
            for (int j = lo; j < hi; j += 256) s += squares(x, off + j, Math.min(256, hi - j));
            p[k] = s;
        });
        double s = 0;
        for (int k = 0; k < blocks; k++) s += p[k];
        return s;
    }

    private static float squares(float[] x, int off, int n) {
        FloatVector acc = FloatVector.zero(F);
        int i = 0;
        for (int bound = F.loopBound(n); i < bound; i += LANES) {
            FloatVector v = FloatVector.fromArray(F, x, off + i);
            acc = v.fma(v, acc);
        }
        float s = Simd.sum(acc);
        for (; i < n; i++) s = Math.fma(x[off + i], x[off + i], s);
        return s;
    }

    private static void check(float[] a, int off, int n) {
        if (n < 0) throw new IllegalArgumentException("negative length " + n);
        Objects.checkFromIndexSize(off, n, a.length);
    }
}
