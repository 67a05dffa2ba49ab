package dev.palm4j.core.model;

import dev.palm4j.core.InputException;
import dev.palm4j.core.kernels.Attention;
import dev.palm4j.core.kernels.CrossEntropy;
import dev.palm4j.core.kernels.Elementwise;
import dev.palm4j.core.kernels.Embedding;
import dev.palm4j.core.kernels.Gemm;
import dev.palm4j.core.kernels.Norm;
import dev.palm4j.core.kernels.Parallel;
import dev.palm4j.core.kernels.Rope;
import dev.palm4j.core.kernels.SwiGlu;
import dev.palm4j.core.model.KernelProfile.Op;

/**
 * A PaLM-style decoder-only Transformer (DESIGN.md, "Model"), forward and backward.
 *
 * <pre>
 *   x_0     = E[tokens]
 *   x_{l+1} = x_l + Attn(Norm(x_l)) + FFN(Norm(x_l))        one norm feeds both branches
 *   logits  = Norm(x_L) . E^T / sqrt(d)                       E shared with the input
 *   loss    = mean(CE) + z_loss * mean(logsumexp^2)
 * </pre>
 * The five input projections of a block are one GEMM over the shared norm output; the two
 * output projections (wo, w_down) add into one partial sum, which a model-parallel group
 * all-reduces once per block. Parameters and gradients are flat arrays laid out by
 * {@link ParamLayout}; activations live in one arena reused every step (no allocation per
 * step after the first at a given batch shape).
 *
 * <p>Not thread-safe: one model per device, driven by one thread; the kernels fan out through the
 * device's {@link Parallel}.
 */
public final class PalmModel {
    public final PalmConfig config;
    public final ParamLayout layout;
    final Parallel par;
    final ModelGroup group;
    private final float[] params, grads;
    final Rope.Table rope;
    final float attnScale, logitScale;
    private Activations act;
    private KernelProfile profile; // null: no timing

    /** Mean loss and cross-entropy of one batch and the number of target tokens they cover. */
    public record Loss(double loss, double ce, int tokens) {}

    /** A single-device model with PaLM initialisation from {@code seed}. */
    public PalmModel(PalmConfig config, Parallel par, long seed) {
        this(config, par, ModelGroup.SINGLE);
        initialize(seed);
    }

    /** This device's shard of the model on {@code group} (uninitialised: call {@link #initialize}). */
    public PalmModel(PalmConfig config, Parallel par, ModelGroup group) {
        this.config = config;
        this.par = par;
        this.group = group;
        this.layout = new ParamLayout(config, group.rank(), group.size());
        this.params = new float[layout.size()];
        this.grads = new float[layout.size()];
        this.rope = Rope.Table.of(config.maxSeqLen(), config.headDim(), config.ropeBase());
        this.attnScale = (float) (1.0 / Math.sqrt(config.headDim()));
        this.logitScale = (float) (1.0 / Math.sqrt(config.dModel()));
    }

    /** PaLM initialisation, the same full weights on every mesh for a given seed. */
    public void initialize(long seed) {
        Init.initialize(layout, params, seed);
    }

    /**
     * Replaces the parameters with {@code weights} (a checkpoint's, in this model's layout), so a
     * model built from a config can take trained weights.
     */
    public void loadWeights(float[] weights) {
        if (weights.length != params.length)
            throw new IllegalArgumentException("weights hold " + weights.length + " floats; this model's layout has "
                    + params.length);
        System.arraycopy(weights, 0, params, 0, params.length);
    }

    /** The parameters, laid out by {@link #layout}. */
    public float[] params() {
        return params;
    }

    /** The gradients, same layout; {@link #forwardBackward} adds into them. */
    public float[] grads() {
        return grads;
    }

    public void zeroGrads() {
        Elementwise.zero(par, grads, 0, grads.length);
    }

    /** Logits (B*T, vocab) of the last {@link #forward} (after {@link #forwardBackward} they hold gradients). */
    public float[] logits() {
        return java.util.Arrays.copyOfRange(act.a, act.logits, act.logits + act.N * config.vocab());
    }

    /** Times every kernel call into {@code p} from now on (null stops). */
    public void profile(KernelProfile p) {
        this.profile = p;
    }

    private long tick() {
        return profile == null ? 0 : System.nanoTime();
    }

    // adds the time since t to op and returns now (no-op without a profile)
    private long lap(KernelProfile.Op op, boolean backward, long t) {
        if (profile == null) return 0;
        long now = System.nanoTime();
        profile.add(op, backward, now - t);
        return now;
    }

    /** A session for generation: a KV cache for up to {@code capacity} positions of one sequence. */
    public InferenceSession newSession(int capacity) {
        return new InferenceSession(this, capacity);
    }

    /** Floats of activations a (B, T) batch needs, for memory estimates. */
    public long activationFloats(int B, int T) {
        return Activations.floats(layout, B, T);
    }

    /** Floats of activations a (B, T) batch of a single-device model of {@code config} needs. */
    public static long activationFloats(PalmConfig config, int B, int T) {
        return activationFloats(new ParamLayout(config), B, T);
    }

    /** Floats of activations a (B, T) batch of a model (shard) with {@code layout} needs. */
    public static long activationFloats(ParamLayout layout, int B, int T) {
        return Activations.floats(layout, B, T);
    }

    /**
     * Forward only: the loss over {@code targets} (negative targets are ignored), or just the
     * logits when {@code targets} is null. {@code inputs} and {@code targets} are (B, T).
     */
    public Loss forward(int[] inputs, int[] targets, int B, int T) {
        return run(inputs, targets, B, T, false, 0f, null);
    }

    /**
     * Forward and backward over one batch: adds to {@link #grads()} the gradient of the loss
     * times {@code gradScale} times the batch's token count, i.e. pass 1 / (tokens over every
     * micro-batch and data-parallel rank of the step) to get the gradient of the step's mean loss.
     */
    public Loss forwardBackward(int[] inputs, int[] targets, int B, int T, float gradScale) {
        return forwardBackward(inputs, targets, B, T, gradScale, null);
    }

    /** Called as backward finishes each gradient bucket ({@link ParamLayout#bucketStart}). */
    @FunctionalInterface
    public interface GradientsReady {
        /** Bucket {@code b} of {@link #grads()} is final for this batch; backward will not touch it again. */
        void ready(int bucket);
    }

    /**
     * {@link #forwardBackward(int[], int[], int, int, float)}, telling {@code ready} (may be
     * null) as each gradient bucket is finished, so a data-parallel trainer can start reducing
     * it while backward goes on.
     */
    public Loss forwardBackward(int[] inputs, int[] targets, int B, int T, float gradScale, GradientsReady ready) {
        if (targets == null) throw new IllegalArgumentException("training needs targets");
        return run(inputs, targets, B, T, true, gradScale, ready);
    }

    private Loss run(int[] inputs, int[] targets, int B, int T, boolean train, float gradScale, GradientsReady ready) {
        if (B < 1 || T < 1) throw new IllegalArgumentException("batch " + B + " x " + T);
        if (T > config.maxSeqLen())
            throw new InputException("sequence length " + T + " exceeds model.max_seq_len = " + config.maxSeqLen(),
                    "raise max_seq_len or shorten the sequences");
        if (act == null || act.B != B || act.T != T) act = new Activations(layout, B, T);
        Activations s = act;
        System.arraycopy(inputs, 0, s.inputs, 0, s.N);
        if (targets != null) System.arraycopy(targets, 0, s.targets, 0, s.N);
        forwardBlocks(s);
        if (targets == null) return new Loss(Double.NaN, Double.NaN, 0);
        int V = config.vocab();
        long t = tick();
        int counted = train
                ? CrossEntropy.forwardBackward(par, s.a, s.losses, s.a, s.ces, s.a, s.logits, s.a, s.logits,
                        s.targets, 0, s.N, V, config.zLoss(), gradScale)
                : CrossEntropy.forward(par, s.a, s.losses, s.a, s.ces, s.a, s.logits, s.targets, 0, s.N, V, config.zLoss());
        lap(KernelProfile.Op.CROSS_ENTROPY, train, t);
        Loss loss = new Loss(CrossEntropy.mean(s.a, s.losses, s.N, counted), CrossEntropy.mean(s.a, s.ces, s.N, counted), counted);
        if (train) backwardBlocks(s, ready == null ? b -> {} : ready);
        return loss;
    }

    // inputs (B,T) -> logits (B*T, V) in the arena
    private void forwardBlocks(Activations s) {
        PalmConfig c = config;
        ParamLayout p = layout;
        float[] a = s.a, w = params;
        int N = s.N, d = c.dModel(), P = p.projDim, hd = c.headDim(), F = p.ffn;
        long t = tick();
        Embedding.forward(par, a, s.x, s.inputs, 0, w, p.embed, N, c.vocab(), d, 1f);
        t = lap(Op.EMBEDDING, false, t);
        for (int l = 0; l < c.nLayers(); l++) {
            int x = s.x + l * s.sx, xNext = x + s.sx, xn = s.xn + l * s.sx, u = s.u + l * s.sU;
            int q = s.q + l * s.sQ, k = s.k + l * s.sKv, v = s.v + l * s.sKv, att = s.att + l * s.sQ;
            int lse = s.lse + l * s.sLse, h = s.h + l * s.sH;
            int mean = s.mean + l * s.sStat, rstd = s.rstd + l * s.sStat;
            norm(a, xn, mean, rstd, a, x, w, p.norm(l), N);
            t = lap(Op.NORM, false, t);
            // x_n (N,d) -> u (N,P) = [q | k | v | gate | up]
            Gemm.matmulNT(par, a, xn, w, p.wIn(l), a, u, N, P, d, false);
            t = lap(Op.PROJ_IN, false, t);
            Rope.forward(par, a, q, p.qDim, a, u, P, s.B, s.T, p.heads, hd, 0, rope);
            Rope.forward(par, a, k, p.kvDim, a, u + p.qDim, P, s.B, s.T, p.kvHeads, hd, 0, rope);
            copyColumns(a, v, p.kvDim, a, u + p.qDim + p.kvDim, P, N, p.kvDim);
            t = lap(Op.ROPE, false, t);
            Attention.forward(par, a, att, a, lse, a, q, a, k, a, v, s.B, s.T, s.T, s.T, 0,
                    p.heads, p.kvHeads, hd, attnScale);
            t = lap(Op.ATTENTION, false, t);
            int gate = u + p.qDim + 2 * p.kvDim;
            SwiGlu.forward(par, a, h, a, gate, a, gate + F, P, N, F);
            t = lap(Op.SWIGLU, false, t);
            // y (N,d) = att . wo^T + h . w_down^T: this device's share of both branches
            Gemm.matmulNT(par, a, att, w, p.wo(l), a, s.y, N, d, p.qDim, false);
            Gemm.matmulNT(par, a, h, w, p.wDown(l), a, s.y, N, d, F, true);
            t = lap(Op.PROJ_OUT, false, t);
            group.allReduceSum(a, s.y, s.sx);
            t = lap(Op.MODEL_ALLREDUCE, false, t);
            Elementwise.add(par, a, xNext, a, x, a, s.y, s.sx);
            t = lap(Op.RESIDUAL, false, t);
        }
        int xL = s.x + c.nLayers() * s.sx;
        norm(a, s.xf, s.fMean, s.fRstd, a, xL, w, p.finalNorm, N);
        t = lap(Op.NORM, false, t);
        // x_f (N,d) -> logits (N,V) = x_f . E^T / sqrt(d)
        Gemm.matmulNT(par, a, s.xf, w, p.embed, a, s.logits, N, c.vocab(), d, false);
        t = lap(Op.LOGITS, false, t);
        Elementwise.scale(par, a, s.logits, logitScale, N * c.vocab());
        lap(Op.RESIDUAL, false, t);
    }

    // dlogits (in the logits buffer) -> every parameter gradient (+=)
    private void backwardBlocks(Activations s, GradientsReady ready) {
        PalmConfig c = config;
        ParamLayout p = layout;
        float[] a = s.a, w = params, g = grads;
        int N = s.N, d = c.dModel(), V = c.vocab(), P = p.projDim, hd = c.headDim(), F = p.ffn;
        // logits = (x_f . E^T) * scale, so both products see dlogits * scale.
        long t = tick();
        Elementwise.scale(par, a, s.logits, logitScale, N * V);
        t = lap(Op.RESIDUAL, true, t);
        Gemm.matmul(par, a, s.logits, w, p.embed, a, s.dxn, N, d, V, false);       // dx_f (N,d)
        Gemm.matmulTN(par, a, s.logits, a, s.xf, g, p.embed, V, d, N, true);       // dE (V,d)
        t = lap(Op.LOGITS, true, t);
        int xL = s.x + c.nLayers() * s.sx;
        normBackward(a, s.dx, g, p.finalNorm, a, s.dxn, a, xL, w, p.finalNorm, s.fMean, s.fRstd, N, false);
        t = lap(Op.NORM, true, t);
        ready.ready(c.nLayers() + 1);
        for (int l = c.nLayers() - 1; l >= 0; l--) {
            int x = s.x + l * s.sx, xn = s.xn + l * s.sx, u = s.u + l * s.sU;
            int q = s.q + l * s.sQ, k = s.k + l * s.sKv, v = s.v + l * s.sKv, att = s.att + l * s.sQ;
            int lse = s.lse + l * s.sLse, h = s.h + l * s.sH;
            int mean = s.mean + l * s.sStat, rstd = s.rstd + l * s.sStat;
            int gate = u + p.qDim + 2 * p.kvDim;
            // dy = dx (the residual passes the gradient to both branches unchanged)
            t = tick();
            Gemm.matmul(par, a, s.dx, w, p.wo(l), a, s.datt, N, p.qDim, d, false);   // datt (N,qDim)
            Gemm.matmulTN(par, a, s.dx, a, att, g, p.wo(l), d, p.qDim, N, true);     // dwo (d,qDim)
            Gemm.matmul(par, a, s.dx, w, p.wDown(l), a, s.dh, N, F, d, false);      // dh (N,F)
            Gemm.matmulTN(par, a, s.dx, a, h, g, p.wDown(l), d, F, N, true);        // dw_down (d,F)
            t = lap(Op.PROJ_OUT, true, t);
            int dGate = s.du + p.qDim + 2 * p.kvDim;
            SwiGlu.backward(par, a, dGate, a, dGate + F, a, s.dh, a, gate, a, gate + F, P, N, F);
            t = lap(Op.SWIGLU, true, t);
            Attention.backward(par, a, s.dq, a, s.dk, a, s.dv, a, s.datt, a, att, a, lse, a, q, a, k, a, v,
                    s.B, s.T, s.T, s.T, 0, p.heads, p.kvHeads, hd, attnScale);
            t = lap(Op.ATTENTION, true, t);
            Rope.backward(par, a, s.du, P, a, s.dq, p.qDim, s.B, s.T, p.heads, hd, 0, rope);
            Rope.backward(par, a, s.du + p.qDim, P, a, s.dk, p.kvDim, s.B, s.T, p.kvHeads, hd, 0, rope);
            copyColumns(a, s.du + p.qDim + p.kvDim, P, a, s.dv, p.kvDim, N, p.kvDim);
            t = lap(Op.ROPE, true, t);
            Gemm.matmulTN(par, a, s.du, a, xn, g, p.wIn(l), P, d, N, true);         // dW_in (P,d)
            Gemm.matmul(par, a, s.du, w, p.wIn(l), a, s.dxn, N, d, P, false);       // dx_n (N,d)
            t = lap(Op.PROJ_IN, true, t);
            group.allReduceSum(a, s.dxn, s.sx);
            t = lap(Op.MODEL_ALLREDUCE, true, t);
            normBackward(a, s.dx, g, p.norm(l), a, s.dxn, a, x, w, p.norm(l), mean, rstd, N, true);
            t = lap(Op.NORM, true, t);
            // Every model rank used the same wk/wv for its own query heads: sum their gradients.
            if (layout.kvReplicated) group.allReduceSum(g, p.wIn(l) + p.qDim * d, 2 * p.kvDim * d);
            lap(Op.MODEL_ALLREDUCE, true, t);
            ready.ready(l + 1);
        }
        t = tick();
        Embedding.backward(par, g, p.embed, a, s.dx, s.inputs, 0, N, V, d, 1f);
        lap(Op.EMBEDDING, true, t);
        ready.ready(0);
    }

    private void norm(float[] out, int outOff, int mean, int rstd, float[] in, int inOff, float[] w, int wOff, int N) {
        norm(out, outOff, act.a, mean, rstd, in, inOff, w, wOff, N);
    }

    // in (N,d) -> out (N,d), mean and rstd (N) at the given offsets of stats
    void norm(float[] out, int outOff, float[] stats, int mean, int rstd, float[] in, int inOff, float[] w, int wOff, int N) {
        int d = config.dModel();
        if (config.norm() == NormKind.LAYERNORM)
            Norm.layerNormForward(par, out, outOff, stats, mean, stats, rstd, in, inOff, w, wOff, N, d, config.normEps());
        else
            Norm.rmsNormForward(par, out, outOff, stats, rstd, in, inOff, w, wOff, N, d, config.normEps());
    }

    private void normBackward(float[] dinp, int dinpOff, float[] dw, int dwOff, float[] dout, int doutOff,
                              float[] inp, int inpOff, float[] w, int wOff, int mean, int rstd, int N, boolean accumulate) {
        int d = config.dModel();
        if (config.norm() == NormKind.LAYERNORM)
            Norm.layerNormBackward(par, dinp, dinpOff, dw, dwOff, dout, doutOff, inp, inpOff, w, wOff,
                    act.a, mean, act.a, rstd, N, d, accumulate);
        else
            Norm.rmsNormBackward(par, dinp, dinpOff, dw, dwOff, dout, doutOff, inp, inpOff, w, wOff,
                    act.a, rstd, N, d, accumulate);
    }

    // src (rows, cols) @ srcStride -> dst (rows, cols) @ dstStride
    void copyColumns(float[] dst, int dstOff, int dstStride, float[] src, int srcOff, int srcStride,
                             int rows, int cols) {
        par.forRange(rows, Math.max(1, 4096 / Math.max(1, cols)), (lo, hi) -> {
            for (int r = lo; r < hi; r++) System.arraycopy(src, srcOff + r * srcStride, dst, dstOff + r * dstStride, cols);
        });
    }
}
