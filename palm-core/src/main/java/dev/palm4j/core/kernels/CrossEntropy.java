package dev.palm4j.core.kernels;

import static dev.palm4j.core.kernels.Simd.F;
import static dev.palm4j.core.kernels.Simd.LANES;

import java.util.Arrays;
import java.util.Objects;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

/**
 * Softmax cross-entropy over the vocabulary with PaLM's z-loss, fused with the logits gradient.
 * For a row with logits l, target t and lse = log sum exp(l):
 * <pre>
 *   ce   = lse - l[t]
 *   loss = ce + zLoss * lse^2
 *   dl   = (softmax(l) * (1 + 2 zLoss lse) - onehot(t)) * scale
 * </pre>
 * Rows whose target is negative are ignored: loss, ce and gradient 0. Per-row values are
 * written to caller arrays; {@link #sum}/{@link #mean} reduce them in row order in double, so
 * the result does not depend on the thread count. Row sums use {@link Exp} and
 * {@link StrictMath#log}, so they do not change when the JIT compiles the loop.
 */
public final class CrossEntropy {
    private CrossEntropy() {}

    /** PaLM's z-loss coefficient. */
    public static final float DEFAULT_Z_LOSS = 1e-4f;

    // logits (N,V), targets (N) -> losses (N), ces (N), dlogits (N,V) (=); returns rows counted
    // ces may be null. dlogits may be null (no gradient) or logits itself (same offset: in place).
    // scale is usually 1 / (rows counted over the whole batch, all micro-batches).
    public static int forwardBackward(Parallel par, float[] losses, int lossOff, float[] ces, int ceOff,
            float[] dlogits, int dOff, float[] logits, int lOff, int[] targets, int tOff, int N, int V,
            float zLoss, float scale) {
        if (N < 0 || V < 1) throw new IllegalArgumentException("bad shape N=" + N + " V=" + V);
        Objects.checkFromIndexSize(lOff, (long) N * V, logits.length);
        Objects.checkFromIndexSize(lossOff, N, losses.length);
        if (ces != null) Objects.checkFromIndexSize(ceOff, N, ces.length);
        if (dlogits != null) Objects.checkFromIndexSize(dOff, (long) N * V, dlogits.length);
        int counted = count(targets, tOff, N, V);
        par.forRange(N, Math.max(1, 8192 / V), (lo, hi) -> {
            for (int n = lo; n < hi; n++)
                row(losses, lossOff + n, ces, ceOff + n, dlogits, dOff + n * V, logits, lOff + n * V,
                        targets[tOff + n], V, zLoss, scale);
        });
        return counted;
    }

    // logits (N,V), targets (N) -> losses (N), ces (N); returns rows counted (evaluation: no gradient)
    public static int forward(Parallel par, float[] losses, int lossOff, float[] ces, int ceOff,
            float[] logits, int lOff, int[] targets, int tOff, int N, int V, float zLoss) {
        return forwardBackward(par, losses, lossOff, ces, ceOff, null, 0, logits, lOff, targets, tOff, N, V, zLoss, 0f);
    }

    /**
     * Number of rows with a target {@code >= 0}; throws IllegalArgumentException naming the row,
     * the id and the vocabulary size when a target is {@code >= V}.
     */
    public static int count(int[] targets, int off, int N, int V) {
        Objects.checkFromIndexSize(off, N, targets.length);
        int counted = 0;
        for (int n = 0; n < N; n++) {
            int t = targets[off + n];
            if (t >= V) throw new IllegalArgumentException(
                    "target id " + t + " at row " + n + " is outside the vocabulary of size " + V);
            if (t >= 0) counted++;
        }
        return counted;
    }

    /** {@code rows[off] + ... + rows[off+N-1]} in double, in index order. */
    public static double sum(float[] rows, int off, int N) {
        double s = 0;
        for (int n = 0; n < N; n++) s += rows[off + n];
        return s;
    }

    /** {@link #sum} over {@code counted} (ignored rows hold 0); NaN when nothing was counted. */
    public static double mean(float[] rows, int off, int N, int counted) {
        return counted == 0 ? Double.NaN : sum(rows, off, N) / counted;
    }

    private static void row(float[] losses, int li, float[] ces, int ci, float[] d, int di, float[] x, int xi, int t,
            int V, float zLoss, float scale) {
        if (t < 0) {
            losses[li] = 0f;
            if (ces != null) ces[ci] = 0f;
            if (d != null) Arrays.fill(d, di, di + V, 0f);
            return;
        }
        float xt = x[xi + t]; // read before an in-place gradient overwrites it
        int bound = F.loopBound(V);
        FloatVector vmax = FloatVector.broadcast(F, Float.NEGATIVE_INFINITY);
        int i = 0;
        for (; i < bound; i += LANES) vmax = vmax.max(FloatVector.fromArray(F, x, xi + i));
        float max = vmax.reduceLanes(VectorOperators.MAX);
        for (; i < V; i++) max = Math.max(max, x[xi + i]);

        // e = exp(l - max), kept in d when there is a gradient to write, so exp runs once per logit.
        FloatVector vsum = FloatVector.zero(F);
        i = 0;
        for (; i < bound; i += LANES) {
            FloatVector e = Exp.exp(FloatVector.fromArray(F, x, xi + i).sub(max));
            if (d != null) e.intoArray(d, di + i);
            vsum = vsum.add(e);
        }
        float sum = Simd.sum(vsum);
        for (; i < V; i++) {
            float e = Exp.exp(x[xi + i] - max);
            if (d != null) d[di + i] = e;
            sum += e;
        }
        double lse = max + StrictMath.log(sum);
        double ce = lse - xt;
        losses[li] = (float) (ce + zLoss * lse * lse);
        if (ces != null) ces[ci] = (float) ce;
        if (d == null) return;

        float k = (float) ((1.0 + 2.0 * zLoss * lse) * scale / sum);
        i = 0;
        for (; i < bound; i += LANES) FloatVector.fromArray(F, d, di + i).mul(k).intoArray(d, di + i);
        for (; i < V; i++) d[di + i] *= k;
        d[di + t] -= scale;
    }
}
