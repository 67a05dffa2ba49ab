package dev.palm4j.core.model;

import dev.palm4j.core.InputException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Where every parameter lives in the one flat {@code float[]} a device holds, under the
 * DESIGN.md weight names, and which slice of the full tensor it is.
 *
 * <p>Per block the input projections are stored back to back, {@code wq, wk, wv, w_gate, w_up},
 * each {@code [out, d_model]}: together they are one {@code [P, d_model]} matrix, so the parallel
 * block's five input projections run as one GEMM over the shared norm output (as PaLM did).
 *
 * <p>On a model axis of {@code size} devices (Megatron): wq, w_gate, w_up are split by rows
 * (column parallel), wo and w_down by columns (row parallel); with one K/V head (multi-query) wk
 * and wv are replicated and their gradients summed over the axis, with several they are split by
 * rows like the query heads. Embedding and norms are replicated.
 */
public final class ParamLayout {

    /** How a device's slice relates to the full tensor. */
    public enum Split { REPLICATED, ROWS, COLUMNS }

    /**
     * One named tensor: {@code rows x cols} floats at {@code offset} (a vector has rows = 1), the
     * slice {@code [rowStart, rowStart+rows) x [colStart, colStart+cols)} of the full
     * {@code fullRows x fullCols} tensor. {@code decay}: matrices get weight decay, vectors do not.
     */
    public record Tensor(String name, int rows, int cols, int offset, int fullRows, int fullCols,
                         int rowStart, int colStart, Split split, boolean vector) {
        public int size() {
            return rows * cols;
        }

        /** The shape as written to disk: [d] for a vector, [rows, cols] for a matrix. */
        public long[] fullShape() {
            return vector ? new long[] {fullCols} : new long[] {fullRows, fullCols};
        }

        public boolean decay() {
            return !vector;
        }
    }

    public final PalmConfig config;
    public final int rank, groupSize;
    /** Local sizes: query heads, K/V heads, SwiGLU hidden, and the fused projection width P. */
    public final int heads, kvHeads, ffn, qDim, kvDim, projDim;
    /** Whether wk/wv are replicated (multi-query across a model axis): their gradients need a sum. */
    public final boolean kvReplicated;

    private final List<Tensor> tensors = new ArrayList<>();
    private final Map<String, Tensor> byName = new LinkedHashMap<>();
    private final int total;
    public final int embed, finalNorm;
    private final int[] norm, wIn, wo, wDown;

    public ParamLayout(PalmConfig c) {
        this(c, 0, 1);
    }

    public ParamLayout(PalmConfig c, int rank, int groupSize) {
        this.config = c;
        this.rank = rank;
        this.groupSize = groupSize;
        int d = c.dModel(), hd = c.headDim(), fullF = c.ffnHidden();
        if (c.nHeads() % groupSize != 0)
            throw new InputException("parallel.model = " + groupSize + " does not divide model.n_heads = " + c.nHeads(),
                    "use a model-axis size that divides the number of heads");
        if (fullF % groupSize != 0)
            throw new InputException("parallel.model = " + groupSize + " does not divide the FFN hidden size " + fullF,
                    "use a model-axis size that divides ffn_mult * d_model");
        kvReplicated = groupSize > 1 && c.nKvHeads() == 1;
        if (groupSize > 1 && !kvReplicated && c.nKvHeads() % groupSize != 0)
            throw new InputException("parallel.model = " + groupSize + " does not divide model.n_kv_heads = " + c.nKvHeads(),
                    "use n_kv_heads = 1 (replicated on every model rank) or a multiple of the model-axis size");
        heads = c.nHeads() / groupSize;
        kvHeads = kvReplicated ? 1 : c.nKvHeads() / groupSize;
        ffn = fullF / groupSize;
        qDim = heads * hd;
        kvDim = kvHeads * hd;
        projDim = qDim + 2 * kvDim + 2 * ffn;

        int L = c.nLayers();
        norm = new int[L];
        wIn = new int[L];
        wo = new int[L];
        wDown = new int[L];
        int at = 0;
        embed = at;
        at = add("embed.weight", c.vocab(), d, at, c.vocab(), d, 0, 0, Split.REPLICATED, false);
        for (int l = 0; l < L; l++) {
            String p = "layers." + l + ".";
            norm[l] = at;
            at = add(p + "norm.weight", 1, d, at, 1, d, 0, 0, Split.REPLICATED, true);
            wIn[l] = at;
            at = add(p + "attn.wq", qDim, d, at, c.nHeads() * hd, d, rank * qDim, 0, split(), false);
            Split kvSplit = kvReplicated || groupSize == 1 ? Split.REPLICATED : Split.ROWS;
            int kvRow = kvReplicated ? 0 : rank * kvDim;
            at = add(p + "attn.wk", kvDim, d, at, c.nKvHeads() * hd, d, kvRow, 0, kvSplit, false);
            at = add(p + "attn.wv", kvDim, d, at, c.nKvHeads() * hd, d, kvRow, 0, kvSplit, false);
            at = add(p + "ffn.w_gate", ffn, d, at, fullF, d, rank * ffn, 0, split(), false);
            at = add(p + "ffn.w_up", ffn, d, at, fullF, d, rank * ffn, 0, split(), false);
            wo[l] = at;
            at = add(p + "attn.wo", d, qDim, at, d, c.nHeads() * hd, 0, rank * qDim, colSplit(), false);
            wDown[l] = at;
            at = add(p + "ffn.w_down", d, ffn, at, d, fullF, 0, rank * ffn, colSplit(), false);
        }
        finalNorm = at;
        at = add("final_norm.weight", 1, d, at, 1, d, 0, 0, Split.REPLICATED, true);
        total = at;
    }

    private Split split() {
        return groupSize == 1 ? Split.REPLICATED : Split.ROWS;
    }

    private Split colSplit() {
        return groupSize == 1 ? Split.REPLICATED : Split.COLUMNS;
    }

    private int add(String name, int rows, int cols, int at, int fullRows, int fullCols, int rowStart, int colStart,
                    Split split, boolean vector) {
        Tensor t = new Tensor(name, rows, cols, at, fullRows, fullCols, rowStart, colStart, split, vector);
        tensors.add(t);
        byName.put(name, t);
        return at + t.size();
    }

    /** Total floats on this device. */
    public int size() {
        return total;
    }

    public List<Tensor> tensors() {
        return Collections.unmodifiableList(tensors);
    }

    public Tensor tensor(String name) {
        Tensor t = byName.get(name);
        if (t == null) throw new IllegalArgumentException("no parameter named " + name);
        return t;
    }

    public int norm(int layer) { return norm[layer]; }

    /**
     * Gradient buckets: the embedding (bucket 0), each block (1 .. n_layers) and the final norm
     * (n_layers + 1), each a contiguous range of the layout. Backward finishes them in the order
     * final norm, blocks from last to first, embedding; data parallelism reduces each bucket as
     * soon as it is finished, overlapping communication with the rest of backward.
     */
    public int buckets() { return config.nLayers() + 2; }

    public int bucketStart(int b) {
        return b == 0 ? embed : b <= config.nLayers() ? norm[b - 1] : finalNorm;
    }

    public int bucketEnd(int b) {
        return b == buckets() - 1 ? total : bucketStart(b + 1);
    }

    /** The fused input projection [wq; wk; wv; w_gate; w_up], (P, d_model). */
    public int wIn(int layer) { return wIn[layer]; }

    public int wo(int layer) { return wo[layer]; }

    public int wDown(int layer) { return wDown[layer]; }
}
