package dev.palm4j.core.kernels;

import static dev.palm4j.core.kernels.Simd.F;
import static dev.palm4j.core.kernels.Simd.LANES;

import java.util.Objects;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

/**
 * Row normalisation with a learned scale and no bias: PaLM's LayerNorm (mean-centred) and
 * RMSNorm. Rows are independent in the forward pass and in d_input; the scale gradient sums
 * over rows, which is done in fixed chunks of {@link #ROW_CHUNK} rows so it is bitwise the same
 * for every {@link Parallel} width.
 *
 * <p>Scratch: the backward keeps its per-chunk partial scale gradients,
 * {@code ceil(N / ROW_CHUNK) * C} floats, in a buffer owned by the calling thread and grown on
 * first use; nothing is allocated afterwards.
 */
public final class Norm {
    private Norm() {}

    /** PaLM's epsilon. */
    public static final float DEFAULT_EPS = 1e-5f;

    /** Rows per partial sum of the scale gradient; fixed so results do not depend on threads. */
    static final int ROW_CHUNK = 32;

    private static final ThreadLocal<float[]> PARTIALS = ThreadLocal.withInitial(() -> new float[0]);

    // inp (N,C), weight (C) -> out (N,C), mean (N), rstd (N)
    // out = (inp - mean) * rstd * weight, rstd = 1 / sqrt(var + eps)
    public static void layerNormForward(Parallel par, float[] out, int outOff, float[] mean, int meanOff,
            float[] rstd, int rstdOff, float[] inp, int inpOff, float[] weight, int wOff, int N, int C, float eps) {
        Objects.requireNonNull(mean, "mean");
        forward(par, true, out, outOff, mean, meanOff, rstd, rstdOff, inp, inpOff, weight, wOff, N, C, eps);
    }

    // inp (N,C), weight (C) -> out (N,C), rstd (N)
    // out = inp * rstd * weight, rstd = 1 / sqrt(mean(inp^2) + eps)
    public static void rmsNormForward(Parallel par, float[] out, int outOff, float[] rstd, int rstdOff,
            float[] inp, int inpOff, float[] weight, int wOff, int N, int C, float eps) {
        forward(par, false, out, outOff, null, 0, rstd, rstdOff, inp, inpOff, weight, wOff, N, C, eps);
    }

    // dout (N,C), inp (N,C), weight (C), mean (N), rstd (N) -> dinp (N,C) (= or +=), dweight (C) (+=)
    // dinp may be the very same region as dout or inp (not a partial overlap).
    public static void layerNormBackward(Parallel par, float[] dinp, int dinpOff, float[] dweight, int dwOff,
            float[] dout, int doutOff, float[] inp, int inpOff, float[] weight, int wOff,
            float[] mean, int meanOff, float[] rstd, int rstdOff, int N, int C, boolean accumulate) {
        Objects.requireNonNull(mean, "mean");
        backward(par, true, dinp, dinpOff, dweight, dwOff, dout, doutOff, inp, inpOff, weight, wOff,
                mean, meanOff, rstd, rstdOff, N, C, accumulate);
    }

    // dout (N,C), inp (N,C), weight (C), rstd (N) -> dinp (N,C) (= or +=), dweight (C) (+=)
    public static void rmsNormBackward(Parallel par, float[] dinp, int dinpOff, float[] dweight, int dwOff,
            float[] dout, int doutOff, float[] inp, int inpOff, float[] weight, int wOff,
            float[] rstd, int rstdOff, int N, int C, boolean accumulate) {
        backward(par, false, dinp, dinpOff, dweight, dwOff, dout, doutOff, inp, inpOff, weight, wOff,
                null, 0, rstd, rstdOff, N, C, accumulate);
    }

    private static void forward(Parallel par, boolean centred, float[] out, int outOff, float[] mean, int meanOff,
            float[] rstd, int rstdOff, float[] inp, int inpOff, float[] weight, int wOff, int N, int C, float eps) {
        checkRows(out, outOff, inp, inpOff, rstd, rstdOff, mean, meanOff, weight, wOff, N, C);
        par.forRange(N, grain(C), (lo, hi) -> {
            for (int n = lo; n < hi; n++) forwardRow(centred, out, outOff + n * C, mean, meanOff + n,
                    rstd, rstdOff + n, inp, inpOff + n * C, weight, wOff, C, eps);
        });
    }

    private static void forwardRow(boolean centred, float[] out, int o, float[] mean, int mi, float[] rstd, int ri,
            float[] x, int xi, float[] w, int wOff, int C, float eps) {
        int bound = F.loopBound(C);
        float m = 0f;
        if (centred) {
            FloatVector acc = FloatVector.zero(F);
            int c = 0;
            for (; c < bound; c += LANES) acc = acc.add(FloatVector.fromArray(F, x, xi + c));
            float s = Simd.sum(acc);
            for (; c < C; c++) s += x[xi + c];
            m = s / C;
        }
        // Two passes (mean, then centred squares) rather than E[x^2] - E[x]^2, which cancels badly.
        FloatVector acc = FloatVector.zero(F);
        int c = 0;
        for (; c < bound; c += LANES) {
            FloatVector d = FloatVector.fromArray(F, x, xi + c).sub(m);
            acc = d.fma(d, acc);
        }
        float v = Simd.sum(acc);
        for (; c < C; c++) {
            float d = x[xi + c] - m;
            v = Math.fma(d, d, v);
        }
        float s = 1f / (float) Math.sqrt(v / C + eps);
        c = 0;
        for (; c < bound; c += LANES) {
            FloatVector xh = FloatVector.fromArray(F, x, xi + c).sub(m).mul(s);
            xh.mul(FloatVector.fromArray(F, w, wOff + c)).intoArray(out, o + c);
        }
        for (; c < C; c++) out[o + c] = (x[xi + c] - m) * s * w[wOff + c];
        if (centred) mean[mi] = m;
        rstd[ri] = s;
    }

    private static void backward(Parallel par, boolean centred, float[] dinp, int dinpOff, float[] dw, int dwOff,
            float[] dout, int doutOff, float[] inp, int inpOff, float[] w, int wOff,
            float[] mean, int meanOff, float[] rstd, int rstdOff, int N, int C, boolean accumulate) {
        checkRows(dinp, dinpOff, inp, inpOff, rstd, rstdOff, mean, meanOff, w, wOff, N, C);
        Objects.checkFromIndexSize(doutOff, (long) N * C, dout.length);
        Objects.checkFromIndexSize(dwOff, C, dw.length);
        if (N == 0 || C == 0) return;
        int chunks = (N + ROW_CHUNK - 1) / ROW_CHUNK;
        float[] partial = partials((long) chunks * C);
        par.forEach(chunks, k -> {
            int p = k * C;
            java.util.Arrays.fill(partial, p, p + C, 0f);
            for (int n = k * ROW_CHUNK, end = Math.min(N, n + ROW_CHUNK); n < end; n++)
                backwardRow(centred, dinp, dinpOff + n * C, partial, p, dout, doutOff + n * C, inp, inpOff + n * C,
                        w, wOff, centred ? mean[meanOff + n] : 0f, rstd[rstdOff + n], C, accumulate);
        });
        // dweight += sum over chunks in chunk order; split over channels, which changes nothing per element.
        par.forRange(C, 1024, (lo, hi) -> {
            int c = lo;
            for (int bound = lo + F.loopBound(hi - lo); c < bound; c += LANES) {
                FloatVector s = FloatVector.fromArray(F, partial, c);
                for (int k = 1; k < chunks; k++) s = s.add(FloatVector.fromArray(F, partial, k * C + c));
                FloatVector.fromArray(F, dw, dwOff + c).add(s).intoArray(dw, dwOff + c);
            }
            for (; c < hi; c++) {
                float s = partial[c];
                for (int k = 1; k < chunks; k++) s += partial[k * C + c];
                dw[dwOff + c] += s;
            }
        });
    }

    // g = dout * w, xhat = (x - m) * s:
    // dx = s * (g - mean(g) - xhat * mean(g * xhat)), the mean(g) term only when centred.
    private static void backwardRow(boolean centred, float[] dinp, int di, float[] partial, int p,
            float[] dout, int gi, float[] x, int xi, float[] w, int wOff, float m, float s, int C, boolean accumulate) {
        int bound = F.loopBound(C);
        FloatVector accG = FloatVector.zero(F), accGX = FloatVector.zero(F);
        int c = 0;
        for (; c < bound; c += LANES) {
            FloatVector d = FloatVector.fromArray(F, dout, gi + c);
            FloatVector xh = FloatVector.fromArray(F, x, xi + c).sub(m).mul(s);
            FloatVector g = d.mul(FloatVector.fromArray(F, w, wOff + c));
            accG = accG.add(g);
            accGX = g.fma(xh, accGX);
            d.fma(xh, FloatVector.fromArray(F, partial, p + c)).intoArray(partial, p + c);
        }
        float sumG = Simd.sum(accG), sumGX = Simd.sum(accGX);
        for (; c < C; c++) {
            float d = dout[gi + c], xh = (x[xi + c] - m) * s, g = d * w[wOff + c];
            sumG += g;
            sumGX = Math.fma(g, xh, sumGX);
            partial[p + c] = Math.fma(d, xh, partial[p + c]);
        }
        float a = centred ? sumG / C : 0f, b = sumGX / C;
        c = 0;
        for (; c < bound; c += LANES) {
            FloatVector xh = FloatVector.fromArray(F, x, xi + c).sub(m).mul(s);
            FloatVector g = FloatVector.fromArray(F, dout, gi + c).mul(FloatVector.fromArray(F, w, wOff + c));
            FloatVector dx = g.sub(a).sub(xh.mul(b)).mul(s);
            if (accumulate) dx = FloatVector.fromArray(F, dinp, di + c).add(dx);
            dx.intoArray(dinp, di + c);
        }
        for (; c < C; c++) {
            float xh = (x[xi + c] - m) * s, g = dout[gi + c] * w[wOff + c];
            float dx = (g - a - xh * b) * s;
            dinp[di + c] = accumulate ? dinp[di + c] + dx : dx;
        }
    }

    private static float[] partials(long size) {
        if (size > Integer.MAX_VALUE - 8) throw new IllegalArgumentException("norm scratch too large: " + size);
        float[] buf = PARTIALS.get();
        if (buf.length < size) {
            buf = new float[(int) size];
            PARTIALS.set(buf);
        }
        return buf;
    }

    private static void checkRows(float[] out, int outOff, float[] inp, int inpOff, float[] rstd, int rstdOff,
            float[] mean, int meanOff, float[] w, int wOff, int N, int C) {
        if (N < 0 || C < 0) throw new IllegalArgumentException("negative shape N=" + N + " C=" + C);
        Objects.checkFromIndexSize(outOff, (long) N * C, out.length);
        Objects.checkFromIndexSize(inpOff, (long) N * C, inp.length);
        Objects.checkFromIndexSize(rstdOff, N, rstd.length);
        if (mean != null) Objects.checkFromIndexSize(meanOff, N, mean.length);
        Objects.checkFromIndexSize(wOff, C, w.length);
    }

    private static int grain(int C) {
        return Math.max(1, 8192 / Math.max(1, C));
    }
}
