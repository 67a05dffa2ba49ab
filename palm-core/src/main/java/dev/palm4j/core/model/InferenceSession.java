package dev.palm4j.core.model;

import dev.palm4j.core.InputException;
import dev.palm4j.core.kernels.Attention;
import dev.palm4j.core.kernels.Elementwise;
import dev.palm4j.core.kernels.Embedding;
import dev.palm4j.core.kernels.Gemm;
import dev.palm4j.core.kernels.Rope;
import dev.palm4j.core.kernels.SwiGlu;

/**
 * Incremental decoding of one sequence with a KV cache: {@link #append} runs the new tokens
 * (a whole prompt at once, then one token at a time) through the blocks, attending to every
 * cached position, and returns the logits of the last one. Each new token costs O(T) attention
 * work instead of a full forward pass. With multi-query attention the cache holds a single K/V
 * head per layer: {@link #cacheBytes} shows the saving.
 */
public final class InferenceSession {
    private final PalmModel model;
    private final ParamLayout p;
    private final int capacity;
    private final float[] kCache, vCache; // per layer (capacity, kvHeads, headDim)
    private float[] buf = new float[0];
    private final float[] out;
    private int length;

    InferenceSession(PalmModel model, int capacity) {
        if (capacity < 1 || capacity > model.config.maxSeqLen())
            throw new InputException("a context of " + capacity + " positions does not fit model.max_seq_len = "
                    + model.config.maxSeqLen(), "ask for at most max_seq_len positions");
        this.model = model;
        this.p = model.layout;
        this.capacity = capacity;
        long cache = (long) model.config.nLayers() * capacity * p.kvDim;
        this.kCache = new float[Math.toIntExact(cache)];
        this.vCache = new float[Math.toIntExact(cache)];
        this.out = new float[model.config.vocab()];
    }

    /** Positions already in the cache. */
    public int length() {
        return length;
    }

    public int capacity() {
        return capacity;
    }

    /** Bytes of K and V cache for the whole capacity. */
    public long cacheBytes() {
        return 8L * kCache.length;
    }

    /** Forgets the cached positions (the buffers are kept). */
    public void reset() {
        length = 0;
    }

    /**
     * Runs {@code n} new tokens at positions length .. length+n-1 and returns the logits (vocab)
     * of the last one. The returned array is reused by the next call.
     */
    public float[] append(int[] tokens, int off, int n) {
        if (n < 1) throw new IllegalArgumentException("append needs at least one token");
        if (length + n > capacity)
            throw new InputException("the sequence would reach " + (length + n) + " tokens, past the context of "
                    + capacity, "shorten the prompt or ask for fewer new tokens");
        PalmConfig c = model.config;
        int d = c.dModel(), P = p.projDim, hd = c.headDim(), F = p.ffn, V = c.vocab();
        // Scratch: x, xn, y (n,d); u (n,P); q, att (n,qDim); h (n,F); norm stats 2n; lse (heads,n); logits (V)
        int x = 0, xn = x + n * d, y = xn + n * d, u = y + n * d, q = u + n * P, att = q + n * p.qDim,
                h = att + n * p.qDim, stats = h + n * F, lse = stats + 2 * n, logits = lse + p.heads * n,
                end = logits + V;
        if (buf.length < end) buf = new float[end];
        float[] a = buf, w = model.params();
        Embedding.forward(model.par, a, x, tokens, off, w, p.embed, n, V, d, 1f);
        for (int l = 0; l < c.nLayers(); l++) {
            int kl = l * capacity * p.kvDim;
            model.norm(a, xn, a, stats, stats + n, a, x, w, p.norm(l), n);
            Gemm.matmulNT(model.par, a, xn, w, p.wIn(l), a, u, n, P, d, false);
            Rope.forward(model.par, a, q, p.qDim, a, u, P, 1, n, p.heads, hd, length, model.rope);
            // New keys (RoPE'd) and values go straight into the cache at their positions.
            Rope.forward(model.par, kCache, kl + length * p.kvDim, p.kvDim, a, u + p.qDim, P, 1, n, p.kvHeads, hd,
                    length, model.rope);
            model.copyColumns(vCache, kl + length * p.kvDim, p.kvDim, a, u + p.qDim + p.kvDim, P, n, p.kvDim);
            Attention.forward(model.par, a, att, a, lse, a, q, kCache, kl, vCache, kl, 1, n, length + n, capacity,
                    length, p.heads, p.kvHeads, hd, model.attnScale);
            int gate = u + p.qDim + 2 * p.kvDim;
            SwiGlu.forward(model.par, a, h, a, gate, a, gate + F, P, n, F);
            Gemm.matmulNT(model.par, a, att, w, p.wo(l), a, y, n, d, p.qDim, false);
            Gemm.matmulNT(model.par, a, h, w, p.wDown(l), a, y, n, d, F, true);
            model.group.allReduceSum(a, y, n * d);
            Elementwise.accumulate(model.par, a, x, a, y, n * d);
        }
        // Only the last position's logits are needed to pick the next token.
        int last = x + (n - 1) * d;
        model.norm(a, xn, a, stats, stats + 1, a, last, w, p.finalNorm, 1);
        Gemm.matmulNT(model.par, a, xn, w, p.embed, a, logits, 1, V, d, false);
        Elementwise.scale(model.par, a, logits, model.logitScale, V);
        length += n;
        System.arraycopy(a, logits, out, 0, V);
        return out;
    }
}
