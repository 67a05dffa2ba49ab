package dev.palm4j.core.model;

/**
 * Everything one training step keeps between forward and backward, in one float arena sized for
 * a (B, T) batch, llm.c style: offsets into a single array, allocated once and reused every step.
 * Per block l it holds the block input x_l, the norm statistics, the norm output, the fused
 * projection u = [q k v gate up], RoPE'd dense copies of q and k, v, the attention output and
 * its logsumexp, and the SwiGLU output; then the final norm and the logits. The gradient
 * buffers at the end are scratch reused by every block's backward.
 */
final class Activations {
    final int B, T, N;
    final float[] a;
    final int[] inputs, targets;
    // Per-layer bases; the stride of each is its per-layer size.
    final int x, mean, rstd, xn, u, q, k, v, att, lse, h;
    final int fMean, fRstd, xf, logits, losses, ces;
    final int y, dx, dxn, du, dq, dk, dv, datt, dh;
    final int sx, sStat, sU, sQ, sKv, sLse, sH;

    Activations(ParamLayout p, int B, int T) {
        this.B = B;
        this.T = T;
        this.N = B * T;
        PalmConfig c = p.config;
        int L = c.nLayers(), d = c.dModel();
        sx = N * d;
        sStat = N;
        sU = N * p.projDim;
        sQ = N * p.qDim;
        sKv = N * p.kvDim;
        sLse = B * p.heads * T;
        sH = N * p.ffn;
        long at = 0;
        x = (int) at; at += (long) (L + 1) * sx;
        mean = (int) at; at += (long) L * sStat;
        rstd = (int) at; at += (long) L * sStat;
        xn = (int) at; at += (long) L * sx;
        u = (int) at; at += (long) L * sU;
        q = (int) at; at += (long) L * sQ;
        k = (int) at; at += (long) L * sKv;
        v = (int) at; at += (long) L * sKv;
        att = (int) at; at += (long) L * sQ;
        lse = (int) at; at += (long) L * sLse;
        h = (int) at; at += (long) L * sH;
        fMean = (int) at; at += N;
        fRstd = (int) at; at += N;
        xf = (int) at; at += sx;
        logits = (int) at; at += (long) N * c.vocab();
        losses = (int) at; at += N;
        ces = (int) at; at += N;
        y = (int) at; at += sx;
        dx = (int) at; at += sx;
        dxn = (int) at; at += sx;
        du = (int) at; at += sU;
        dq = (int) at; at += sQ;
        dk = (int) at; at += sKv;
        dv = (int) at; at += sKv;
        datt = (int) at; at += sQ;
        dh = (int) at; at += sH;
        if (at > Integer.MAX_VALUE - 64)
            throw new dev.palm4j.core.InputException("activations for batch " + B + " x " + T + " need " + at
                    + " floats, more than one Java array holds", "use a smaller batch or sequence length");
        a = new float[(int) at];
        inputs = new int[N];
        targets = new int[N];
    }

    /** Floats the arena holds for a (B, T) batch, without allocating it. */
    static long floats(ParamLayout p, int B, int T) {
        PalmConfig c = p.config;
        long N = (long) B * T, L = c.nLayers(), d = c.dModel();
        long perLayer = 2 * N * d + 2 * N + N * p.projDim + 2 * N * p.qDim + 2 * N * p.kvDim
                + (long) B * p.heads * T + N * p.ffn;
        long fin = N * d + N * (d + c.vocab()) + 4 * N;
        long scratch = 3 * N * d + N * p.projDim + 2 * N * p.qDim + 2 * N * p.kvDim + N * p.ffn;
        return L * perLayer + fin + scratch;
    }
}
