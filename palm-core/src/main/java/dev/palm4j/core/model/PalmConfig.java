package dev.palm4j.core.model;

import dev.palm4j.core.InputException;

/**
 * The shape of a PaLM-style model (see DESIGN.md, "Model"). Validated on construction: every
 * error names the field, its value and the rule.
 *
 * @param vocab      vocabulary size; the embedding is shared with the output projection
 * @param dModel     residual stream width d
 * @param nLayers    number of parallel blocks
 * @param nHeads     query heads
 * @param headDim    size of each head (even, for RoPE's rotate-half pairing)
 * @param nKvHeads   key/value heads: 1 = multi-query (PaLM), nHeads = multi-head, between = grouped
 * @param ffnMult    SwiGLU hidden size as a multiple of dModel (PaLM: 4)
 * @param norm       layernorm (PaLM: scale, no bias) or rmsnorm
 * @param normEps    epsilon inside the norm
 * @param ropeBase   RoPE frequency base (10000)
 * @param maxSeqLen  the longest sequence the model is run on (RoPE table, KV cache)
 * @param zLoss      coefficient of PaLM's z-loss, {@code z * log(Z)^2}
 */
public record PalmConfig(int vocab, int dModel, int nLayers, int nHeads, int headDim, int nKvHeads,
                         int ffnMult, NormKind norm, float normEps, double ropeBase, int maxSeqLen,
                         float zLoss) {

    public PalmConfig {
        positive("model.vocab", vocab);
        positive("model.d_model", dModel);
        positive("model.n_layers", nLayers);
        positive("model.n_heads", nHeads);
        positive("model.head_dim", headDim);
        positive("model.n_kv_heads", nKvHeads);
        positive("model.ffn_mult", ffnMult);
        positive("model.max_seq_len", maxSeqLen);
        if (headDim % 2 != 0)
            throw new InputException("model.head_dim = " + headDim + " is odd",
                    "RoPE pairs element i with i + head_dim/2, so head_dim must be even");
        if (nKvHeads > nHeads || nHeads % nKvHeads != 0)
            throw new InputException("model.n_kv_heads = " + nKvHeads + " does not divide model.n_heads = " + nHeads,
                    "use 1 (multi-query), n_heads (multi-head) or a divisor of n_heads (grouped)");
        if (norm == null) throw new InputException("model.norm is missing", "use layernorm or rmsnorm");
        if (!(normEps > 0) || !Float.isFinite(normEps))
            throw new InputException("model.norm_eps = " + normEps + " is not a positive number", "PaLM uses 1e-5");
        if (!(ropeBase > 1) || !Double.isFinite(ropeBase))
            throw new InputException("model.rope_base = " + ropeBase + " must be a finite number above 1", "the usual base is 10000");
        if (!(zLoss >= 0) || !Float.isFinite(zLoss))
            throw new InputException("model.z_loss = " + zLoss + " must be >= 0", "PaLM uses 1e-4; 0 turns it off");
        long params = (long) vocab * dModel + (long) nLayers * layerParams(dModel, nHeads, headDim, nKvHeads, ffnMult);
        if (params > Integer.MAX_VALUE - 64L)
            throw new InputException("the model has " + params + " parameters, more than one Java array holds (2^31)",
                    "make d_model, n_layers or vocab smaller");
    }

    /** PaLM's defaults around the given shape: MQA, ffn 4x, LayerNorm 1e-5, RoPE 10000, z-loss 1e-4. */
    public static PalmConfig of(int vocab, int dModel, int nLayers, int nHeads, int maxSeqLen) {
        if (nHeads > 0 && dModel % nHeads != 0)
            throw new InputException("model.d_model = " + dModel + " is not divisible by model.n_heads = " + nHeads,
                    "set head_dim explicitly or pick n_heads dividing d_model");
        return new PalmConfig(vocab, dModel, nLayers, nHeads, nHeads > 0 ? dModel / nHeads : 0, 1, 4,
                NormKind.LAYERNORM, 1e-5f, 10000.0, maxSeqLen, 1e-4f);
    }

    private static void positive(String field, int v) {
        if (v < 1) throw new InputException(field + " = " + v + " must be a positive integer", "set it to 1 or more");
    }

    private static long layerParams(int d, int h, int hd, int kv, int mult) {
        long f = (long) mult * d;
        return d + (long) d * (h * hd) * 2 + 2L * d * (kv * hd) + 3L * d * f;
    }

    /** SwiGLU hidden size. */
    public int ffnHidden() {
        return ffnMult * dModel;
    }

    public PalmConfig withNorm(NormKind n) {
        return new PalmConfig(vocab, dModel, nLayers, nHeads, headDim, nKvHeads, ffnMult, n, normEps, ropeBase, maxSeqLen, zLoss);
    }

    public PalmConfig withKvHeads(int kv) {
        return new PalmConfig(vocab, dModel, nLayers, nHeads, headDim, kv, ffnMult, norm, normEps, ropeBase, maxSeqLen, zLoss);
    }

    /** Parameters per block, all of them (the block's norm included). */
    public long blockParams() {
        return layerParams(dModel, nHeads, headDim, nKvHeads, ffnMult);
    }

    /** Every parameter: the shared embedding once, the blocks, the final norm. */
    public long parameterCount() {
        return (long) vocab * dModel + nLayers * blockParams() + dModel;
    }

    /**
     * Model FLOPs per token the way PaLM counts them (appendix B): 6N + 12·L·d·T, N the
     * non-embedding parameters plus the tied output projection (d·vocab), T the sequence length.
     */
    public double flopsPerToken(int seqLen) {
        double n = nLayers * (double) blockParams() + dModel + (double) dModel * vocab;
        return 6 * n + 12.0 * nLayers * dModel * seqLen;
    }
}
