package dev.palm4j.train.optim;

import dev.palm4j.core.kernels.Elementwise;
import dev.palm4j.core.kernels.Parallel;

/**
 * Global-norm gradient clipping (Pascanu et al. 2013), which PaLM applies at 1.0 to every model:
 * when ||g|| > max_norm, g *= max_norm / ||g|| (as T5X computes it; torch adds 1e-6 to the norm).
 *
 * <p>The norm is {@link Elementwise#sumOfSquares}: fixed blocks summed in double in block order,
 * so it is the same for every thread count. A NaN or infinite norm is returned untouched and the
 * gradients are left as they are: the trainer skips that step.
 */
public final class GradClip {
    private GradClip() {}

    /** ||grads[off, off+len)||, deterministic; NaN or infinity when a gradient is. */
    public static double globalNorm(Parallel par, float[] grads, int off, int len) {
        return Math.sqrt(Elementwise.sumOfSquares(par, grads, off, len));
    }

    /**
     * Scales {@code grads[off, off+len)} so its global norm is at most {@code maxNorm} and returns
     * the norm before clipping.
     */
    public static double clipGlobalNorm(Parallel par, float[] grads, int off, int len, double maxNorm) {
        double norm = globalNorm(par, grads, off, len);
        clipToNorm(par, grads, off, len, norm, maxNorm);
        return norm;
    }

    /**
     * The scaling half of {@link #clipGlobalNorm}, for a norm measured elsewhere (e.g. summed over
     * the devices of a mesh): scales by {@code maxNorm / norm} when finite {@code norm > maxNorm}.
     */
    public static void clipToNorm(Parallel par, float[] grads, int off, int len, double norm, double maxNorm) {
        if (!(maxNorm > 0)) throw new IllegalArgumentException("max norm must be positive, got " + maxNorm);
        if (Double.isFinite(norm) && norm > maxNorm) Elementwise.scale(par, grads, off, (float) (maxNorm / norm), len);
    }
}
