package dev.palm4j.core.model;

/**
 * Where a model's forward and backward spend their time, by kind of kernel. Attach one with
 * {@link PalmModel#profile}; every kernel call then adds its wall time (one
 * {@code System.nanoTime} pair per call, a few dozen per block: negligible against the kernels).
 * {@code palm bench train} prints it.
 */
public final class KernelProfile {

    /** Kinds of work in a step, in the order a table lists them. */
    public enum Op {
        EMBEDDING("embedding lookup / scatter-add"),
        NORM("layer norm"),
        PROJ_IN("fused input projection GEMM (q k v gate up)"),
        ROPE("rotary embedding (and k/v copies)"),
        ATTENTION("attention"),
        SWIGLU("SwiGLU"),
        PROJ_OUT("output projection GEMMs (wo, w_down)"),
        MODEL_ALLREDUCE("model-axis all-reduce"),
        RESIDUAL("residual add, logit scale"),
        LOGITS("logits GEMM (x . E^T)"),
        CROSS_ENTROPY("cross-entropy + z-loss");

        public final String description;

        Op(String description) {
            this.description = description;
        }
    }

    private final long[] forward = new long[Op.values().length], backward = new long[Op.values().length];

    synchronized void add(Op op, boolean isBackward, long nanos) {
        (isBackward ? backward : forward)[op.ordinal()] += nanos;
    }

    /** Nanoseconds spent in {@code op}, forward or backward, since the last {@link #reset}. */
    public synchronized long nanos(Op op, boolean isBackward) {
        return (isBackward ? backward : forward)[op.ordinal()];
    }

    /** Total nanoseconds of every op, both directions. */
    public synchronized long totalNanos() {
        long t = 0;
        for (int i = 0; i < forward.length; i++) t += forward[i] + backward[i];
        return t;
    }

    public synchronized void reset() {
        java.util.Arrays.fill(forward, 0);
        java.util.Arrays.fill(backward, 0);
    }
}
