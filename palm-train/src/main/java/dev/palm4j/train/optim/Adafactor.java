package dev.palm4j.train.optim;

import static dev.palm4j.core.kernels.Simd.F;
import static dev.palm4j.core.kernels.Simd.LANES;

import dev.palm4j.core.InputException;
import dev.palm4j.core.kernels.Parallel;
import dev.palm4j.core.kernels.Simd;
import dev.palm4j.core.model.ParamLayout.Split;
import dev.palm4j.core.model.ParamLayout.Tensor;
import java.util.List;
import java.util.stream.IntStream;
import jdk.incubator.vector.FloatVector;

/**
 * Adafactor as PaLM trained with it: no factorisation, so "effectively Adam with parameter
 * scaling" (Chowdhery et al. 2022, PaLM, §5 "Training setup": Optimizer and Optimization
 * hyperparameters), built from Shazeer and Stern 2018, Adafactor: §5 update clipping, §6
 * increasing decay parameter, §7 relative step size (parameter scaling); momentum and the
 * decoupled weight decay are placed as T5X's {@code adafactor.py} places them.
 *
 * <p>At update {@code k} (1-based) with learning rate lr, for each tensor X with gradient G of
 * n = fullRows * fullCols elements (RMS(A) = sqrt(sum A^2 / n) over the whole tensor):
 * <pre>
 *   beta2 = 1 - k^(-decay_rate)                  PaLM: decay_rate 0.8, so beta2 = 0 at k = 1
 *   V     = beta2 * V + (1 - beta2) * (G^2 + eps1) state "v", eps1 = 1e-30
 *   U     = G / sqrt(V)
 *   U     = U / max(1, RMS(U) / clip_threshold)   update clipping, threshold 1.0
 *   alpha = lr * max(eps2, RMS(X))                parameter scaling, X before this update, eps2 = 1e-3
 *   M     = beta1 * M + (1 - beta1) * alpha * U   state "exp_avg", beta1 = 0.9, no bias correction
 *   X     = (1 - wd * lr^2) * X - M               "dynamic weight decay lr^2", wd = 1
 * </pre>
 * Weight decay applies only to {@code Tensor.decay()} tensors (matrices and the embedding), not
 * to norm scales, the same rule as AdamW here (the PaLM paper does not say). The momentum
 * averages the scaled step (lr and parameter scale included), as in T5X, not the raw gradient as
 * in Adam; neither moment is bias-corrected (beta2 = 0 at k = 1 makes V unbiased anyway).
 *
 * <p>In float, per element: {@code V = fma(V, beta2, fma(G, G, eps1) * (1 - beta2))},
 * {@code U = G / sqrt(V)}, {@code M = fma(M, beta1, U * s)} with one float per tensor
 * {@code s = (1 - beta1) * alpha / max(1, RMS(U) / clip_threshold)} computed in double, and
 * {@code X = fma(X, 1 - wd * lr^2, -M)}. Pass one updates V and sums U^2 and X^2; pass two
 * recomputes U from the stored V and updates M and X.
 *
 * <p>Determinism: beta2 is computed in Java with {@link StrictMath} (as exp(-decay_rate ln k),
 * within a few ulps of the power in double, then rounded to float); the element loops use only
 * correctly rounded float operations. The two per-tensor sums (U^2 for clipping, X^2 for
 * scaling) are float within blocks of 256 elements, double across blocks, with blocks inside
 * fixed chunks and chunks added in order: the same bits for every thread count.
 *
 * <p>Sharding: a tensor split across a model axis ({@code Split.ROWS} or {@code COLUMNS}) needs
 * its RMS over the full tensor, so the sums of split tensors go through an {@link AxisSum}
 * before use; replicated tensors need nothing.
 */
public final class Adafactor extends ChunkedOptimizer {

    /**
     * Hyperparameters; config keys {@code optimizer.beta1}, {@code optimizer.decay_rate},
     * {@code optimizer.eps1}, {@code optimizer.eps2}, {@code optimizer.clip_threshold} and
     * {@code optimizer.weight_decay} (the factor on lr^2; 1 is PaLM's "lr^2", 0 disables decay).
     */
    public record Settings(double beta1, double decayRate, double eps1, double eps2, double clipThreshold,
                           double weightDecay) {
        /** PaLM's values. */
        public static final Settings PALM = new Settings(0.9, 0.8, 1e-30, 1e-3, 1.0, 1.0);

        public Settings {
            if (!(beta1 >= 0 && beta1 < 1))
                throw new InputException("optimizer.beta1 = " + beta1 + " is outside [0, 1)", "PaLM used 0.9; 0 turns momentum off");
            if (!(decayRate > 0 && decayRate <= 1))
                throw new InputException("optimizer.decay_rate = " + decayRate + " is outside (0, 1]",
                        "beta2 = 1 - k^-decay_rate; PaLM used 0.8");
            if (!(eps1 > 0) || Double.isInfinite(eps1) || (float) eps1 == 0f)
                throw new InputException("optimizer.eps1 = " + eps1 + " must be a positive float", "PaLM used 1e-30");
            if (!(eps2 >= 0) || Double.isInfinite(eps2))
                throw new InputException("optimizer.eps2 = " + eps2 + " must be >= 0", "PaLM used 1e-3");
            if (!(clipThreshold > 0) || Double.isInfinite(clipThreshold))
                throw new InputException("optimizer.clip_threshold = " + clipThreshold + " must be positive", "PaLM used 1.0");
            if (!(weightDecay >= 0) || Double.isInfinite(weightDecay))
                throw new InputException("optimizer.weight_decay = " + weightDecay + " must be >= 0",
                        "it multiplies lr^2; PaLM used 1, 0 disables it");
        }
    }

    /** Sums {@code buf[off, off+len)} element-wise over the model axis, in place, in a fixed order. */
    @FunctionalInterface
    public interface AxisSum {
        void allReduceSum(double[] buf, int off, int len);
    }

    /** Elements per float partial sum inside a chunk. */
    static final int BLOCK = 256;

    public final Settings settings;
    private final float[] m, v;
    private final AxisSum axis;
    private final double[] chunkU, chunkX;    // per chunk: sums of U^2 and X^2
    private final double[] sumU, sumX;        // per tensor: the same, over the tensor (and axis)
    private final float[] stepScale, keep;    // per tensor, this step: (1 - b1) alpha / clip, 1 - wd lr^2
    private final int[] split;                // indices of tensors split across the model axis
    private final double[] splitSums;         // their (U^2, X^2) sums, for the axis all-reduce
    private final Parallel.Task pass1 = this::pass1, pass2 = this::pass2;

    // This step's operands, set by step() before each parallel loop (which publishes them).
    private float[] p, g;
    private float b2, omb2, eps1, b1;

    /** PaLM's settings on a single device (or with no tensor split across devices). */
    public Adafactor(List<Tensor> tensors, Parallel par) {
        this(tensors, par, Settings.PALM, null);
    }

    /**
     * @param axis sums the statistics of split tensors over the model axis; may be null only when
     *             no tensor is split
     */
    public Adafactor(List<Tensor> tensors, Parallel par, Settings settings, AxisSum axis) {
        super(tensors, par, "exp_avg", "v");
        this.settings = settings;
        this.m = stateArray("exp_avg");
        this.v = stateArray("v");
        this.axis = axis;
        int n = this.tensors.size();
        chunkU = new double[lo.length];
        chunkX = new double[lo.length];
        sumU = new double[n];
        sumX = new double[n];
        stepScale = new float[n];
        keep = new float[n];
        split = IntStream.range(0, n).filter(t -> this.tensors.get(t).split() != Split.REPLICATED).toArray();
        splitSums = new double[2 * split.length];
        if (split.length > 0 && axis == null)
            throw new IllegalArgumentException(this.tensors.get(split[0]).name()
                    + " is split across the model axis: Adafactor needs an AxisSum for its RMS");
    }

    @Override
    public void step(float[] params, float[] grads, long step, double lr) {
        checkStep(params, grads, step, lr);
        Settings s = settings;
        // k^-c as exp(-c ln k): StrictMath.pow allocates scratch arrays on JDK 17, exp and log do not
        double beta2 = 1 - StrictMath.exp(-s.decayRate * StrictMath.log(step));
        b2 = (float) beta2;
        omb2 = (float) (1 - beta2);
        eps1 = (float) s.eps1;
        b1 = (float) s.beta1;
        p = params;
        g = grads;
        par.forEach(lo.length, pass1); // V, and each chunk's sums of U^2 and X^2

        for (int t = 0; t < tensors.size(); t++) { // chunk sums in chunk order
            double u = 0, x = 0;
            for (int c = firstChunk[t]; c < firstChunk[t + 1]; c++) {
                u += chunkU[c];
                x += chunkX[c];
            }
            sumU[t] = u;
            sumX[t] = x;
        }
        if (split.length > 0) {
            for (int i = 0; i < split.length; i++) {
                splitSums[2 * i] = sumU[split[i]];
                splitSums[2 * i + 1] = sumX[split[i]];
            }
            axis.allReduceSum(splitSums, 0, splitSums.length);
            for (int i = 0; i < split.length; i++) {
                sumU[split[i]] = splitSums[2 * i];
                sumX[split[i]] = splitSums[2 * i + 1];
            }
        }
        double decay = 1 - s.weightDecay * lr * lr;
        for (int t = 0; t < tensors.size(); t++) {
            Tensor x = tensors.get(t);
            double n = Math.max(1.0, (double) x.fullRows() * x.fullCols());
            double rmsU = StrictMath.sqrt(sumU[t] / n), rmsX = StrictMath.sqrt(sumX[t] / n);
            double alpha = lr * Math.max(s.eps2, rmsX);
            double clip = Math.max(1, rmsU / s.clipThreshold);
            stepScale[t] = (float) ((1 - s.beta1) * alpha / clip);
            keep[t] = x.decay() ? (float) decay : 1f;
        }
        par.forEach(lo.length, pass2); // M and X
        p = g = null;
    }

    // chunk c: V updated; U = G / sqrt(V) and X squared and summed (float per block, double across)
    private void pass1(int c) {
        float[] g = this.g, p = this.p, v = this.v;
        double su = 0, sp = 0;
        for (int b = lo[c], end = hi[c]; b < end; b += BLOCK) {
            int e = Math.min(end, b + BLOCK), i = b;
            // broadcast per block: hoisted above this loop, C2 (JDK 17) boxes them once per chunk
            FloatVector vb2 = FloatVector.broadcast(F, b2), vomb2 = FloatVector.broadcast(F, omb2);
            FloatVector veps = FloatVector.broadcast(F, eps1);
            FloatVector au = FloatVector.zero(F), ap = FloatVector.zero(F);
            for (int bound = b + F.loopBound(e - b); i < bound; i += LANES) {
                FloatVector gi = FloatVector.fromArray(F, g, i);
                FloatVector vi = FloatVector.fromArray(F, v, i).fma(vb2, gi.fma(gi, veps).mul(vomb2));
                vi.intoArray(v, i);
                FloatVector ui = gi.div(vi.sqrt());
                FloatVector pi = FloatVector.fromArray(F, p, i);
                au = ui.fma(ui, au);
                ap = pi.fma(pi, ap);
            }
            float fu = Simd.sum(au), fp = Simd.sum(ap);
            for (; i < e; i++) {
                float gi = g[i];
                float vi = Math.fma(v[i], b2, Math.fma(gi, gi, eps1) * omb2);
                v[i] = vi;
                float ui = gi / (float) Math.sqrt(vi); // double sqrt rounded to float = float sqrt
                fu = Math.fma(ui, ui, fu);
                fp = Math.fma(p[i], p[i], fp);
            }
            su += fu;
            sp += fp;
        }
        chunkU[c] = su;
        chunkX[c] = sp;
    }

    // chunk c: M = b1 M + ((1 - b1) alpha / clip) U;  X = keep X - M
    private void pass2(int c) {
        float[] g = this.g, p = this.p, v = this.v, m = this.m;
        int t = tensorOf[c];
        float ss = stepScale[t], k = keep[t];
        FloatVector vb1 = FloatVector.broadcast(F, b1), vss = FloatVector.broadcast(F, ss), vk = FloatVector.broadcast(F, k);
        int i = lo[c], end = hi[c];
        for (int bound = i + F.loopBound(end - i); i < bound; i += LANES) {
            FloatVector ui = FloatVector.fromArray(F, g, i).div(FloatVector.fromArray(F, v, i).sqrt());
            FloatVector mi = FloatVector.fromArray(F, m, i).fma(vb1, ui.mul(vss));
            mi.intoArray(m, i);
            FloatVector.fromArray(F, p, i).fma(vk, mi.neg()).intoArray(p, i);
        }
        for (; i < end; i++) {
            float ui = g[i] / (float) Math.sqrt(v[i]);
            float mi = Math.fma(m[i], b1, ui * ss);
            m[i] = mi;
            p[i] = Math.fma(p[i], k, -mi);
        }
    }
}
