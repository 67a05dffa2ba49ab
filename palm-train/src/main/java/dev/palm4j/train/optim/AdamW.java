package dev.palm4j.train.optim;

import static dev.palm4j.core.kernels.Simd.F;
import static dev.palm4j.core.kernels.Simd.LANES;

import dev.palm4j.core.InputException;
import dev.palm4j.core.kernels.Parallel;
import dev.palm4j.core.model.ParamLayout.Tensor;
import java.util.List;
import jdk.incubator.vector.FloatVector;

/**
 * AdamW (Loshchilov and Hutter, "Decoupled Weight Decay Regularization"), step for step as
 * {@code torch.optim.AdamW} computes it, per element at update {@code k} with learning rate lr:
 * <pre>
 *   p   *= 1 - lr * wd                        decoupled decay, only on decay() tensors
 *   m    = b1 * m + (1 - b1) * g              state "exp_avg"
 *   v    = b2 * v + (1 - b2) * g^2            state "exp_avg_sq"
 *   p   -= (lr / (1 - b1^k)) * m / (sqrt(v) / sqrt(1 - b2^k) + eps)
 * </pre>
 * i.e. {@code p -= lr * m_hat / (sqrt(v_hat) + eps)} with the bias corrections arranged as torch
 * arranges them. Weight decay applies to matrices and the embedding ({@code Tensor.decay()}),
 * never to norm scales, like the anchor's parameter groups.
 *
 * <p>Defaults ({@link Settings#DEFAULTS}) are those of {@code ../shared/anchors/torch_palm.py}:
 * betas 0.9 / 0.95, eps 1e-8, weight decay 0.1 (torch's own defaults are 0.999 and 0.01).
 *
 * <p>Per-step scalars are computed in double and rounded to float once; the element loop uses
 * only correctly rounded float operations (mul, fma, sqrt, div), the same in the vector body and
 * the scalar tail, so results do not depend on threads, chunking or JIT tier.
 */
public final class AdamW extends ChunkedOptimizer {

    /**
     * Hyperparameters; config keys {@code optimizer.beta1}, {@code optimizer.beta2},
     * {@code optimizer.eps}, {@code optimizer.weight_decay}.
     */
    public record Settings(double beta1, double beta2, double eps, double weightDecay) {
        public static final Settings DEFAULTS = new Settings(0.9, 0.95, 1e-8, 0.1);

        public Settings {
            if (!(beta1 >= 0 && beta1 < 1))
                throw new InputException("optimizer.beta1 = " + beta1 + " is outside [0, 1)", "0.9 is usual");
            if (!(beta2 >= 0 && beta2 < 1))
                throw new InputException("optimizer.beta2 = " + beta2 + " is outside [0, 1)", "0.95 or 0.999 are usual");
            if (!(eps > 0) || Double.isInfinite(eps))
                throw new InputException("optimizer.eps = " + eps + " must be positive", "1e-8 is usual");
            if (!(weightDecay >= 0) || Double.isInfinite(weightDecay))
                throw new InputException("optimizer.weight_decay = " + weightDecay + " must be >= 0", "0.1 is usual; 0 disables it");
        }
    }

    public final Settings settings;
    private final float[] m, v;
    private final Parallel.Task update = this::update;

    // This step's operands, set by step() before the parallel loop (which publishes them).
    private float[] p, g;
    private float b1, omb1, b2, omb2, eps, bc2Sqrt, negStepSize, keepDecay;

    public AdamW(List<Tensor> tensors, Parallel par) {
        this(tensors, par, Settings.DEFAULTS);
    }

    public AdamW(List<Tensor> tensors, Parallel par, Settings settings) {
        super(tensors, par, "exp_avg", "exp_avg_sq");
        this.settings = settings;
        this.m = stateArray("exp_avg");
        this.v = stateArray("exp_avg_sq");
    }

    @Override
    public void step(float[] params, float[] grads, long step, double lr) {
        checkStep(params, grads, step, lr);
        Settings s = settings;
        double bc1 = 1 - power(s.beta1, step), bc2 = 1 - power(s.beta2, step);
        b1 = (float) s.beta1;
        omb1 = (float) (1 - s.beta1);
        b2 = (float) s.beta2;
        omb2 = (float) (1 - s.beta2);
        eps = (float) s.eps;
        bc2Sqrt = (float) StrictMath.sqrt(bc2);
        negStepSize = (float) (-lr / bc1);
        keepDecay = (float) (1 - lr * s.weightDecay);
        p = params;
        g = grads;
        par.forEach(lo.length, update);
        p = g = null;
    }

    /**
     * x^k by repeated squaring: within about 2 log2(k) ulps of the exact power, the same bits on
     * every JVM, and no allocation (StrictMath.pow allocates scratch arrays on JDK 17).
     */
    static double power(double x, long k) {
        double r = 1;
        for (; k > 0; k >>= 1, x *= x)
            if ((k & 1) != 0) r *= x;
        return r;
    }

    // chunk c of one tensor: p, m, v updated in place from g
    private void update(int c) {
        float[] p = this.p, g = this.g, m = this.m, v = this.v;
        float keep = tensors.get(tensorOf[c]).decay() ? keepDecay : 1f;
        int i = lo[c], end = hi[c];
        FloatVector vb1 = FloatVector.broadcast(F, b1), vomb1 = FloatVector.broadcast(F, omb1);
        FloatVector vb2 = FloatVector.broadcast(F, b2), vomb2 = FloatVector.broadcast(F, omb2);
        FloatVector veps = FloatVector.broadcast(F, eps), vbc2 = FloatVector.broadcast(F, bc2Sqrt);
        FloatVector vstep = FloatVector.broadcast(F, negStepSize), vkeep = FloatVector.broadcast(F, keep);
        for (int bound = i + F.loopBound(end - i); i < bound; i += LANES) {
            FloatVector gi = FloatVector.fromArray(F, g, i);
            FloatVector mi = FloatVector.fromArray(F, m, i).fma(vb1, gi.mul(vomb1));
            FloatVector vi = FloatVector.fromArray(F, v, i).fma(vb2, gi.mul(gi).mul(vomb2));
            FloatVector denom = vi.sqrt().div(vbc2).add(veps);
            FloatVector pi = FloatVector.fromArray(F, p, i).mul(vkeep);
            mi.div(denom).fma(vstep, pi).intoArray(p, i);
            mi.intoArray(m, i);
            vi.intoArray(v, i);
        }
        for (; i < end; i++) {
            float gi = g[i];
            float mi = Math.fma(m[i], b1, gi * omb1);
            float vi = Math.fma(v[i], b2, gi * gi * omb2);
            float denom = (float) Math.sqrt(vi) / bc2Sqrt + eps;
            p[i] = Math.fma(mi / denom, negStepSize, p[i] * keep);
            m[i] = mi;
            v[i] = vi;
        }
    }
}
