package dev.palm4j.core.kernels;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Causal scaled-dot-product attention for multi-query, grouped-query and multi-head attention,
 * forward and backward, flash-attention style (tiled, online softmax, recomputation from the
 * row logsumexp; no T x T matrix is ever materialised).
 *
 * <p>Layout. Rows are tokens with all heads contiguous, exactly the output of the projection GEMMs:
 * q, out, dout, dq are (B, Tq, Hq, D); k, v, dk, dv are (B, kvCapacity, Hkv, D) of which rows
 * [0, Tk) of each batch element are used (a KV cache allocated for max_seq_len has
 * kvCapacity > Tk). lse is (B, Hq, Tq), the natural-log logsumexp of each row's scaled scores.
 * Query head h reads kv head h / (Hq / Hkv). Query i sits at absolute position qPos0 + i and
 * attends keys j <= qPos0 + i (and j < Tk): training has Tq = Tk, qPos0 = 0; prefill and cached
 * decoding have qPos0 = Tk - Tq.
 *
 * <p>Tiling. All Hq/Hkv query heads that share a kv head are processed together, so one loaded
 * K/V tile serves every head of the group. The inner products are register-blocked micro GEMMs
 * whose vector lanes run over a dimension padded in scratch (query rows, keys, or D in the dq
 * accumulator); caller arrays are only read element by element, so any D >= 1 works without
 * tail code, and the softmax statistics are lane-wise with no horizontal reductions.
 *
 * <p>Threading and determinism. Work is split through {@link Parallel} into tasks chosen from
 * the shape alone; each task writes a disjoint part of the outputs (or of a partial buffer that
 * is then summed in a fixed order), so results are bitwise identical for every Parallel width.
 * Only exactly rounded operations are used (fma, add, mul, compare and blend, integer bit
 * tricks; no reduceLanes(ADD), no SVML exp), so interpreted and JIT-compiled code agree too.
 *
 * <p>Memory. Scratch lives in a lazily grown per-thread {@link ThreadLocal}, so after the first
 * call on each thread nothing is allocated but the task lambda. The choice keeps the API free
 * of workspace arguments whose size would depend on the thread count; Parallel's threads are
 * long-lived, so buffers are reused from step to step. Each thread holds a few tiles (tens of
 * KB, plus a (chunk rows, D) dq accumulator in backward). The thread that calls backward also
 * holds D_i = rowsum(dout * out), (B, Hq, Tq), and, when queries are split into chunks, two
 * partial dk/dv buffers of nc * B * Hkv * Tk * D floats each, where nc * B * Hkv < 2 * TASKS.
 */
public final class Attention {
    private Attention() {}

    private static final VectorSpecies<Float> F = Simd.F;
    private static final int L = Simd.LANES;

    static final int QROWS = 64;  // forward: target query rows (tokens x heads of a group) per tile
    static final int KTILE = 64;  // forward: keys per key tile
    static final int BROWS = 64;  // backward: target query rows per block
    static final int KBLOCK = 64; // backward: keys per key tile
    static final int TASKS = 16;  // backward: split queries into chunks until there are this many tasks

    // Scratch slots used by the calling thread itself (tasks use the others).
    private static final int S_DI = 7, S_PK = 13, S_PV = 14, I_BOUNDS = 2;

    private static final float LOG2E = 1.44269504088896341f;
    private static final double LN2 = 0.6931471805599453;
    private static final float[] IOTA = new float[L];

    static {
        for (int i = 0; i < L; i++) IOTA[i] = i;
    }

    // ---------------------------------------------------------------------------------------
    // Forward

    /**
     * Causal attention forward. Writes {@code out} and {@code lse} for every (b, t, h).
     *
     * @param scale score scale, normally {@code 1 / sqrt(D)}
     */
    // q (B,Tq,Hq,D), k,v (B,kvCapacity,Hkv,D) rows [0,Tk) -> out (B,Tq,Hq,D), lse (B,Hq,Tq)
    public static void forward(Parallel par,
                               float[] out, int outOff, float[] lse, int lseOff,
                               float[] q, int qOff, float[] k, int kOff, float[] v, int vOff,
                               int B, int Tq, int Tk, int kvCapacity, int qPos0,
                               int Hq, int Hkv, int D, float scale) {
        check(B, Tq, Tk, kvCapacity, qPos0, Hq, Hkv, D);
        checkQ(out, outOff, "out", B, Tq, Hq, D);
        checkLen(lse, lseOff, (long) B * Hq * Tq, "lse");
        checkQ(q, qOff, "q", B, Tq, Hq, D);
        checkKv(k, kOff, "k", B, kvCapacity, Tk, Hkv, D);
        checkKv(v, vOff, "v", B, kvCapacity, Tk, Hkv, D);
        if (B == 0 || Tq == 0) return;
        // A query tile holds `tokens` tokens x the G heads of a group, about QROWS rows.
        int bg = B * Hkv, tokens = Math.max(1, QROWS / (Hq / Hkv)), tiles = (Tq + tokens - 1) / tokens;
        // Later query tiles see more keys: hand them out first so the dynamic split balances.
        par.forEach(bg * tiles, task -> {
            int tile = tiles - 1 - task / bg, b = task % bg / Hkv, g = task % Hkv;
            forwardTile(Scratch.get(), out, outOff, lse, lseOff, q, qOff, k, kOff, v, vOff,
                    b, g, tile * tokens, Math.min(Tq, (tile + 1) * tokens),
                    Tq, Tk, kvCapacity, qPos0, Hq, Hkv, D, scale);
        });
    }

    // One query tile: tokens [t0,t1) x the G heads of kv head g, against keys [0, kEnd).
    // Working layout is transposed, (D, Rp) and (C, Rp): query rows run along the vector lanes.
    private static void forwardTile(Scratch ws, float[] out, int outOff, float[] lse, int lseOff,
                                    float[] q, int qOff, float[] k, int kOff, float[] v, int vOff,
                                    int b, int g, int t0, int t1, int Tq, int Tk, int kvCap, int qPos0,
                                    int Hq, int Hkv, int D, float scale) {
        int G = Hq / Hkv, R = (t1 - t0) * G, Rp = roundUp(R, L);
        int[] rows = ws.ints(0, R);
        float[] qt = ws.floats(0, D * Rp), st = ws.floats(1, KTILE * Rp), ot = ws.floats(2, D * Rp);
        float[] pos = ws.floats(3, Rp), m = ws.floats(4, Rp), l = ws.floats(5, Rp), alpha = ws.floats(6, Rp);
        queryRows(rows, pos, b, g, t0, t1, Tq, qPos0, Hq, G, D, Rp);
        // Fold scale and log2(e) into q once, so scores come out in base 2 for exp2.
        transposeRows(qt, Rp, q, qOff, rows, R, D, scale * LOG2E);
        java.util.Arrays.fill(ot, 0, D * Rp, 0f);
        java.util.Arrays.fill(m, 0, Rp, Float.NEGATIVE_INFINITY);
        java.util.Arrays.fill(l, 0, Rp, 0f);
        int kEnd = Math.min(Tk, qPos0 + t1);
        for (int j0 = 0; j0 < kEnd; j0 += KTILE) {
            int C = Math.min(KTILE, kEnd - j0);
            int kv = ((b * kvCap + j0) * Hkv + g) * D, ldkv = Hkv * D;        // key j0 of head g
            java.util.Arrays.fill(st, 0, C * Rp, 0f);
            mulRows(st, 0, Rp, k, kOff + kv, ldkv, C, D, qt, Rp, Rp);          // s^T = k q^T
            boolean mask = j0 + C - 1 > qPos0 + t0;
            onlineSoftmax(st, Rp, C, j0, mask, pos, m, l, alpha);            // s^T -> p^T
            mulCols(ot, Rp, alpha, v, vOff + kv, ldkv, D, C, st, Rp, Rp);       // o^T = o^T a + v^T p^T
        }
        for (int r = 0; r < R; r++) {
            int t = t0 + r / G, h = g * G + r % G;
            float inv = 1f / l[r];
            int o = outOff + rows[r];
            for (int d = 0; d < D; d++) out[o + d] = ot[d * Rp + r] * inv;
            lse[lseOff + (b * Hq + h) * Tq + t] = (float) (m[r] * LN2 + Math.log(l[r]));
        }
    }

    // Online softmax over one key tile of base-2 scores s^T (C, Rp): updates the running max m
    // and sum l, replaces s^T by p^T = exp2(s^T - m_new), and leaves the rescale of the previous
    // accumulator, exp2(m_old - m_new), in alpha. Masked scores (key > query position) give 0.
    private static void onlineSoftmax(float[] st, int Rp, int C, int j0, boolean mask, float[] pos,
                                      float[] m, float[] l, float[] alpha) {
        for (int r0 = 0; r0 < Rp; r0 += L) {
            FloatVector mOld = FloatVector.fromArray(F, m, r0), mx = mOld;
            if (mask) {
                FloatVector p = FloatVector.fromArray(F, pos, r0);
                for (int j = 0, i = r0; j < C; j++, i += Rp) {
                    FloatVector s = FloatVector.fromArray(F, st, i).blend(Float.NEGATIVE_INFINITY, p.lt(j0 + j));
                    s.intoArray(st, i);                                    // exp2(-inf) is exactly 0
                    mx = mx.blend(s, mx.lt(s));                            // max, no NaN rules
                }
            } else {
                for (int j = 0, i = r0; j < C; j++, i += Rp) {
                    FloatVector s = FloatVector.fromArray(F, st, i);
                    mx = mx.blend(s, mx.lt(s));
                }
            }
            FloatVector sum = FloatVector.zero(F);
            for (int j = 0, i = r0; j < C; j++, i += Rp) {
                FloatVector e = exp2(FloatVector.fromArray(F, st, i).sub(mx));
                e.intoArray(st, i);
                sum = sum.add(e);
            }
            FloatVector a = exp2(mOld.sub(mx)); // first tile: exp2(-inf) = 0
            a.intoArray(alpha, r0);
            mx.intoArray(m, r0);
            FloatVector.fromArray(F, l, r0).fma(a, sum).intoArray(l, r0);
        }
    }

    // ---------------------------------------------------------------------------------------
    // Backward

    /**
     * Causal attention backward (flash-attention-2 recomputation from {@code lse}). Overwrites
     * {@code dq} entirely and rows [0, Tk) of each batch element of {@code dk}, {@code dv}; rows
     * [Tk, kvCapacity) are left untouched. {@code out} and {@code lse} must come from
     * {@link #forward} on the same inputs.
     *
     * <p>Tasks are (batch, kv head, query chunk). A task owns the dq rows of its chunk, and adds
     * its chunk's share of dk, dv into a private partial; a last pass sums the partials in chunk
     * order. So no two tasks write the same float, there are no atomics, and the chunking depends
     * only on the shape (about {@value #TASKS} tasks), never on the Parallel width. With
     * B * Hkv >= {@value #TASKS} there is one chunk and dk, dv are written directly.
     */
    // dout, out (B,Tq,Hq,D), lse (B,Hq,Tq), q (B,Tq,Hq,D), k,v (B,kvCapacity,Hkv,D)
    //   -> dq (B,Tq,Hq,D), dk,dv (B,kvCapacity,Hkv,D) rows [0,Tk)
    public static void backward(Parallel par,
                                float[] dq, int dqOff, float[] dk, int dkOff, float[] dv, int dvOff,
                                float[] dout, int doutOff, float[] out, int outOff, float[] lse, int lseOff,
                                float[] q, int qOff, float[] k, int kOff, float[] v, int vOff,
                                int B, int Tq, int Tk, int kvCapacity, int qPos0,
                                int Hq, int Hkv, int D, float scale) {
        check(B, Tq, Tk, kvCapacity, qPos0, Hq, Hkv, D);
        checkQ(dq, dqOff, "dq", B, Tq, Hq, D);
        checkKv(dk, dkOff, "dk", B, kvCapacity, Tk, Hkv, D);
        checkKv(dv, dvOff, "dv", B, kvCapacity, Tk, Hkv, D);
        checkQ(dout, doutOff, "dout", B, Tq, Hq, D);
        checkQ(out, outOff, "out", B, Tq, Hq, D);
        checkLen(lse, lseOff, (long) B * Hq * Tq, "lse");
        checkQ(q, qOff, "q", B, Tq, Hq, D);
        checkKv(k, kOff, "k", B, kvCapacity, Tk, Hkv, D);
        checkKv(v, vOff, "v", B, kvCapacity, Tk, Hkv, D);
        if (B == 0 || Tk == 0) return;
        int G = Hq / Hkv, bg = B * Hkv, tokens = Math.max(1, BROWS / G);
        Scratch cs = Scratch.get();

        // D_i = rowsum(dout * out), once per row (same layout as lse).
        float[] di = cs.floats(S_DI, B * Hq * Tq);
        par.forRange(B * Tq, Math.max(1, 4096 / (Hq * D)), (lo, hi) -> {
            for (int bt = lo; bt < hi; bt++)
                for (int h = 0; h < Hq; h++) {
                    int o = (bt * Hq + h) * D, b = bt / Tq, t = bt % Tq;
                    float s = 0;
                    for (int d = 0; d < D; d++) s += dout[doutOff + o + d] * out[outOff + o + d];
                    di[(b * Hq + h) * Tq + t] = s;
                }
        });

        int nc = Math.max(1, Math.min((Tq + tokens - 1) / tokens, (TASKS + bg - 1) / bg));
        int[] bounds = cs.ints(I_BOUNDS, nc + 1);
        chunkBounds(bounds, nc, tokens, Tq, Tk, qPos0);
        boolean direct = nc == 1;
        float[] pk = direct ? dk : cs.floats(S_PK, nc * bg * Tk * D), pv = direct ? dv : cs.floats(S_PV, nc * bg * Tk * D);
        par.forEach(bg * nc, task -> {
            int c = task / bg, b = task % bg / Hkv, g = task % Hkv;
            int pkBase, pvBase, pld;
            if (direct) {
                pkBase = dkOff + (b * kvCapacity * Hkv + g) * D;
                pvBase = dvOff + (b * kvCapacity * Hkv + g) * D;
                pld = Hkv * D;
            } else {
                pkBase = pvBase = ((c * B + b) * Hkv + g) * Tk * D;
                pld = D;
            }
            backwardChunk(Scratch.get(), dq, dqOff, pk, pkBase, pv, pvBase, pld, direct ? scale : 1f,
                    dout, doutOff, di, lse, lseOff, q, qOff, k, kOff, v, vOff,
                    b, g, bounds[c], bounds[c + 1], Tq, Tk, kvCapacity, qPos0, Hq, Hkv, D, scale);
        });
        if (direct) return;
        // dk, dv = sum of the chunk partials in chunk order. Plain scalar loops on purpose: this
        // runs a few times per call, often before C2 has compiled it, and Vector API code that
        // is not C2-compiled is very slow.
        par.forRange(bg * Tk, Math.max(1, 2048 / D), (lo, hi) -> {
            for (int row = lo; row < hi; row++) {
                int b = row / (Hkv * Tk), g = row / Tk % Hkv, j = row % Tk;
                int ok = dkOff + ((b * kvCapacity + j) * Hkv + g) * D, ov = ok - dkOff + dvOff;
                int p = ((b * Hkv + g) * Tk + j) * D, stride = bg * Tk * D;
                System.arraycopy(pk, p, dk, ok, D);
                System.arraycopy(pv, p, dv, ov, D);
                for (int c = 1; c < nc; c++) {
                    p += stride;
                    for (int d = 0; d < D; d++) {
                        dk[ok + d] += pk[p + d];
                        dv[ov + d] += pv[p + d];
                    }
                }
                for (int d = 0; d < D; d++) dk[ok + d] *= scale;
            }
        });
    }

    // Splits tokens [0,Tq) into nc chunks of whole row blocks with about equal causal work
    // (a token's work is the number of keys it sees).
    private static void chunkBounds(int[] bounds, int nc, int tokens, int Tq, int Tk, int qPos0) {
        long total = 0;
        for (int t = 0; t < Tq; t++) total += Math.min(Tk, qPos0 + t + 1);
        bounds[0] = 0;
        int c = 1;
        long acc = 0;
        for (int t0 = 0; t0 < Tq && c < nc; t0 += tokens) {
            for (int t = t0; t < Math.min(Tq, t0 + tokens); t++) acc += Math.min(Tk, qPos0 + t + 1);
            while (c < nc && acc * nc >= total * c) bounds[c++] = Math.min(Tq, t0 + tokens);
        }
        while (c <= nc) bounds[c++] = Tq;
    }

    // Backward for query tokens [ta,tb) of kv head g in batch b: their dq rows in full, and their
    // share of dk (times kScale) and dv for every key (zero for keys they do not see), written
    // to key j's row at pkBase + j*pld, pvBase + j*pld. Keys run along the lanes: for each key
    // tile, s = q k^T is (R, Cp) and the accumulators dk^T, dv^T are (D, Cp); the chunk's rows
    // go by in blocks:
    //   p = exp2(s - lse), ds = p (dp - D_i), dv^T += dout^T p, dk^T += q^T ds, dq += ds k.
    private static void backwardChunk(Scratch ws, float[] dq, int dqOff, float[] pk, int pkBase, float[] pv, int pvBase,
                                      int pld, float kScale,
                                      float[] dout, int doutOff, float[] di, float[] lse, int lseOff,
                                      float[] q, int qOff, float[] k, int kOff, float[] v, int vOff,
                                      int b, int g, int ta, int tb, int Tq, int Tk, int kvCap, int qPos0,
                                      int Hq, int Hkv, int D, float scale) {
        int G = Hq / Hkv, tokens = Math.max(1, BROWS / G), Rmax = tokens * G, Dp = roundUp(D, L);
        int Call = Math.min(KBLOCK, Tk), Cmax = roundUp(Call, L);
        int[] rows = ws.ints(0, Rmax), keys = ws.ints(1, Call);
        float[] kt = ws.floats(0, D * Cmax), vt = ws.floats(1, D * Cmax), kp = ws.floats(12, Call * Dp);
        float[] dkt = ws.floats(2, D * Cmax), dvt = ws.floats(3, D * Cmax);
        float[] s = ws.floats(4, Rmax * Cmax), dp = ws.floats(5, Rmax * Cmax);
        float[] pos = ws.floats(6, Rmax), lse2 = ws.floats(8, Rmax), dd = ws.floats(9, Rmax);
        float[] qb = ws.floats(10, Rmax * D), dob = ws.floats(11, Rmax * D), ones = ws.ones(Cmax);
        float[] dqa = ws.floats(15, Math.max(1, (tb - ta) * G * Dp));
        java.util.Arrays.fill(dqa, 0, (tb - ta) * G * Dp, 0f);
        FloatVector iota = FloatVector.fromArray(F, IOTA, 0);
        int kEnd = ta < tb ? Math.min(Tk, qPos0 + tb) : 0, j0 = 0;
        for (; j0 < kEnd; j0 += KBLOCK) {
            int j1 = Math.min(Tk, j0 + KBLOCK), C = j1 - j0, Cp = roundUp(C, L);
            keyRows(keys, b, g, j0, C, kvCap, Hkv, D);
            transposeRows(kt, Cp, k, kOff, keys, C, D, scale * LOG2E);
            transposeRows(vt, Cp, v, vOff, keys, C, D, 1f);
            for (int j = 0; j < C; j++) {                                  // k tile (C, Dp), zero-padded
                System.arraycopy(k, kOff + keys[j], kp, j * Dp, D);
                java.util.Arrays.fill(kp, j * Dp + D, (j + 1) * Dp, 0f);
            }
            java.util.Arrays.fill(dkt, 0, D * Cp, 0f);
            java.util.Arrays.fill(dvt, 0, D * Cp, 0f);
            // Rows go by in the chunk's fixed blocks, from the first block that sees key j0.
            for (int tA = ta + Math.max(0, j0 - qPos0 - ta) / tokens * tokens; tA < tb; tA += tokens) {
                int tB = Math.min(tb, tA + tokens), R = (tB - tA) * G;
                queryRows(rows, pos, b, g, tA, tB, Tq, qPos0, Hq, G, D, R);
                rowStats(lse2, dd, R, lse, lseOff, di, b, g, tA, tB, Tq, Hq, G);
                // The block's q and dout rows as (R, D) matrices: in place when they are evenly
                // spaced (one kv head: all heads of a token form the group), else packed.
                float[] qa = q, da = dout;
                int qa0 = qOff + rows[0], da0 = doutOff + rows[0];
                if (Hkv > 1) {
                    pack(qa = qb, q, qOff, rows, R, D);
                    pack(da = dob, dout, doutOff, rows, R, D);
                    qa0 = da0 = 0;
                }
                java.util.Arrays.fill(s, 0, R * Cp, 0f);
                java.util.Arrays.fill(dp, 0, R * Cp, 0f);
                mulRows(s, 0, Cp, qa, qa0, D, R, D, kt, Cp, Cp);                // s = q k^T
                mulRows(dp, 0, Cp, da, da0, D, R, D, vt, Cp, Cp);               // dp = dout v^T
                // Key j0+j is visible to row r iff j0+j <= pos[r]. Padding keys (j >= C) need no
                // mask: lanes never mix, their columns of dk^T, dv^T are never written out, and
                // dq's product stops at C.
                boolean mask = qPos0 + tA < j1 - 1;
                for (int r = 0; r < R; r++) {
                    float lim = pos[r] - j0;
                    float ls = lse2[r], dr = dd[r];
                    for (int j = 0, i = r * Cp; j < Cp; j += L, i += L) {
                        FloatVector e = exp2(FloatVector.fromArray(F, s, i).sub(ls));
                        if (mask) e = e.blend(0f, iota.add(j).compare(VectorOperators.GT, lim));
                        e.intoArray(s, i);                                                    // p
                        e.mul(FloatVector.fromArray(F, dp, i).sub(dr)).intoArray(dp, i);      // ds
                    }
                }
                mulCols(dvt, Cp, ones, da, da0, D, D, R, s, Cp, Cp);            // dv^T += dout^T p
                mulCols(dkt, Cp, ones, qa, qa0, D, D, R, dp, Cp, Cp);           // dk^T += q^T ds
                mulRows(dqa, (tA - ta) * G * Dp, Dp, dp, 0, Cp, R, C, kp, Dp, Dp); // dq += ds k
            }
            for (int j = 0; j < C; j++) {
                int ok = pkBase + (j0 + j) * pld, ov = pvBase + (j0 + j) * pld;
                for (int d = 0; d < D; d++) {
                    pk[ok + d] = dkt[d * Cp + j] * kScale;
                    pv[ov + d] = dvt[d * Cp + j];
                }
            }
        }
        for (int j = j0; j < Tk; j++) {                                    // keys no row here sees
            java.util.Arrays.fill(pk, pkBase + j * pld, pkBase + j * pld + D, 0f);
            java.util.Arrays.fill(pv, pvBase + j * pld, pvBase + j * pld + D, 0f);
        }
        for (int r = 0, t = ta; t < tb; t++)
            for (int h = 0; h < G; h++, r++) {
                int o = dqOff + ((b * Tq + t) * Hq + g * G + h) * D;
                for (int d = 0; d < D; d++) dq[o + d] = dqa[r * Dp + d] * scale;
            }
    }

    // ---------------------------------------------------------------------------------------
    // Tiles and rows

    // Row r = (t0 + r / G, head g*G + r % G): its offset in a (B,Tq,Hq,D) tensor and its absolute
    // position as a float (exact below 2^24). Rows [R, Rp) are padding: never masked.
    private static void queryRows(int[] rows, float[] pos, int b, int g, int t0, int t1, int Tq, int qPos0,
                                  int Hq, int G, int D, int Rp) {
        int r = 0;
        for (int t = t0; t < t1; t++)
            for (int h = 0; h < G; h++, r++) {
                rows[r] = ((b * Tq + t) * Hq + g * G + h) * D;
                pos[r] = qPos0 + t;
            }
        for (; r < Rp; r++) pos[r] = Float.MAX_VALUE;
    }

    // Key j0 + j of kv head g: its offset in a (B,kvCap,Hkv,D) tensor.
    private static void keyRows(int[] keys, int b, int g, int j0, int C, int kvCap, int Hkv, int D) {
        for (int j = 0; j < C; j++) keys[j] = ((b * kvCap + j0 + j) * Hkv + g) * D;
    }

    // Per-row base-2 logsumexp and D_i for rows of tokens [t0,t1) x G heads; padding rows get 0.
    private static void rowStats(float[] lse2, float[] dd, int Rp, float[] lse, int lseOff, float[] di,
                                 int b, int g, int t0, int t1, int Tq, int Hq, int G) {
        int r = 0;
        for (int t = t0; t < t1; t++)
            for (int h = 0; h < G; h++, r++) {
                int i = (b * Hq + g * G + h) * Tq + t;
                lse2[r] = lse[lseOff + i] * LOG2E;
                dd[r] = di[i];
            }
        for (; r < Rp; r++) lse2[r] = dd[r] = 0f;
    }

    // dst (R, D) = rows a[aOff + rows[r] ...+D], packed contiguously.
    private static void pack(float[] dst, float[] a, int aOff, int[] rows, int R, int D) {
        for (int r = 0; r < R; r++) System.arraycopy(a, aOff + rows[r], dst, r * D, D);
    }

    // dst (D, ld) = a^T * mul for rows a[aOff + rows[r] + d], r < R; columns [R, ld) zeroed.
    private static void transposeRows(float[] dst, int ld, float[] a, int aOff, int[] rows, int R, int D, float mul) {
        for (int r = 0; r < R; r++) {
            int o = aOff + rows[r];
            for (int d = 0; d < D; d++) dst[d * ld + r] = a[o + d] * mul;
        }
        if (R < ld) for (int d = 0; d < D; d++) java.util.Arrays.fill(dst, d * ld + R, d * ld + ld, 0f);
    }

    // ---------------------------------------------------------------------------------------
    // Micro GEMMs. Lanes run over n, and N is a multiple of L. Register blocks are 6 rows x 2
    // vectors (12 accumulators: enough independent FMAs to cover their latency on AVX2's 16
    // registers). A short last block of rows repeats its last row and stores only the real ones,
    // so there is no separate edge kernel.

    // c (M, N) += a (M, K) b (K, N), where a[m][k] = a[aOff + m*lda + k], b has row stride ldb and
    // c starts at cOff with row stride ldc.
    static void mulRows(float[] c, int cOff, int ldc, float[] a, int aOff, int lda, int M, int K,
                        float[] b, int ldb, int N) {
        for (int m = 0; m < M; m += 6) {
            int h = Math.min(6, M - m), last = M - 1;
            int a0 = aOff + m * lda, a1 = aOff + Math.min(m + 1, last) * lda, a2 = aOff + Math.min(m + 2, last) * lda,
                    a3 = aOff + Math.min(m + 3, last) * lda, a4 = aOff + Math.min(m + 4, last) * lda,
                    a5 = aOff + Math.min(m + 5, last) * lda;
            // Rows past the end repeat the last row (loaded, computed, not stored).
            int r1 = (Math.min(m + 1, last) - m) * ldc, r2 = (Math.min(m + 2, last) - m) * ldc,
                    r3 = (Math.min(m + 3, last) - m) * ldc, r4 = (Math.min(m + 4, last) - m) * ldc,
                    r5 = (Math.min(m + 5, last) - m) * ldc;
            int n = 0;
            for (; n + 2 * L <= N; n += 2 * L) {
                int ci = cOff + m * ldc + n;
                FloatVector c00 = FloatVector.fromArray(F, c, ci), c01 = FloatVector.fromArray(F, c, ci + L),
                        c10 = FloatVector.fromArray(F, c, ci + r1), c11 = FloatVector.fromArray(F, c, ci + r1 + L),
                        c20 = FloatVector.fromArray(F, c, ci + r2), c21 = FloatVector.fromArray(F, c, ci + r2 + L),
                        c30 = FloatVector.fromArray(F, c, ci + r3), c31 = FloatVector.fromArray(F, c, ci + r3 + L),
                        c40 = FloatVector.fromArray(F, c, ci + r4), c41 = FloatVector.fromArray(F, c, ci + r4 + L),
                        c50 = FloatVector.fromArray(F, c, ci + r5), c51 = FloatVector.fromArray(F, c, ci + r5 + L);
                for (int kk = 0, bi = n; kk < K; kk++, bi += ldb) {
                    FloatVector b0 = FloatVector.fromArray(F, b, bi), b1 = FloatVector.fromArray(F, b, bi + L);
                    FloatVector x = FloatVector.broadcast(F, a[a0 + kk]);
                    c00 = b0.fma(x, c00); c01 = b1.fma(x, c01);
                    x = FloatVector.broadcast(F, a[a1 + kk]);
                    c10 = b0.fma(x, c10); c11 = b1.fma(x, c11);
                    x = FloatVector.broadcast(F, a[a2 + kk]);
                    c20 = b0.fma(x, c20); c21 = b1.fma(x, c21);
                    x = FloatVector.broadcast(F, a[a3 + kk]);
                    c30 = b0.fma(x, c30); c31 = b1.fma(x, c31);
                    x = FloatVector.broadcast(F, a[a4 + kk]);
                    c40 = b0.fma(x, c40); c41 = b1.fma(x, c41);
                    x = FloatVector.broadcast(F, a[a5 + kk]);
                    c50 = b0.fma(x, c50); c51 = b1.fma(x, c51);
                }
                c00.intoArray(c, ci); c01.intoArray(c, ci + L);
                if (h > 1) { c10.intoArray(c, ci + ldc); c11.intoArray(c, ci + ldc + L); }
                if (h > 2) { c20.intoArray(c, ci + 2 * ldc); c21.intoArray(c, ci + 2 * ldc + L); }
                if (h > 3) { c30.intoArray(c, ci + 3 * ldc); c31.intoArray(c, ci + 3 * ldc + L); }
                if (h > 4) { c40.intoArray(c, ci + 4 * ldc); c41.intoArray(c, ci + 4 * ldc + L); }
                if (h > 5) { c50.intoArray(c, ci + 5 * ldc); c51.intoArray(c, ci + 5 * ldc + L); }
            }
            for (; n < N; n += L) {
                int ci = cOff + m * ldc + n;
                FloatVector c0 = FloatVector.fromArray(F, c, ci), c1 = FloatVector.fromArray(F, c, ci + r1),
                        c2 = FloatVector.fromArray(F, c, ci + r2), c3 = FloatVector.fromArray(F, c, ci + r3),
                        c4 = FloatVector.fromArray(F, c, ci + r4), c5 = FloatVector.fromArray(F, c, ci + r5);
                for (int kk = 0, bi = n; kk < K; kk++, bi += ldb) {
                    FloatVector b0 = FloatVector.fromArray(F, b, bi);
                    c0 = b0.fma(FloatVector.broadcast(F, a[a0 + kk]), c0);
                    c1 = b0.fma(FloatVector.broadcast(F, a[a1 + kk]), c1);
                    c2 = b0.fma(FloatVector.broadcast(F, a[a2 + kk]), c2);
                    c3 = b0.fma(FloatVector.broadcast(F, a[a3 + kk]), c3);
                    c4 = b0.fma(FloatVector.broadcast(F, a[a4 + kk]), c4);
                    c5 = b0.fma(FloatVector.broadcast(F, a[a5 + kk]), c5);
                }
                c0.intoArray(c, ci);
                if (h > 1) c1.intoArray(c, ci + ldc);
                if (h > 2) c2.intoArray(c, ci + 2 * ldc);
                if (h > 3) c3.intoArray(c, ci + 3 * ldc);
                if (h > 4) c4.intoArray(c, ci + 4 * ldc);
                if (h > 5) c5.intoArray(c, ci + 5 * ldc);
            }
        }
    }

    // c (M, N) = c * alpha[n] + a^T (M, K) b (K, N), where
    // a^T[m][k] = a[aOff + k*lda + m]: a is read as K rows (tokens) of M values. The last block of
    // rows slides back to stay 6 high (constant offsets keep the inner loop lean) and skips the
    // rows the previous block already stored. Plain accumulation passes alpha = ones: multiplying
    // by 1 is exact, and an optional branch here costs JDK 25's C2 half the speed.
    static void mulCols(float[] c, int ldc, float[] alpha, float[] a, int aOff, int lda, int M, int K,
                        float[] b, int ldb, int N) {
        if (M < 6) {
            mulColsNarrow(c, ldc, alpha, a, aOff, lda, M, K, b, ldb, N);
            return;
        }
        for (int m0 = 0; m0 < M; m0 += 6) {
            int m = Math.min(m0, M - 6), skip = m0 - m;
            int n = 0;
            for (; n + 2 * L <= N; n += 2 * L) {
                int ci = m * ldc + n;
                FloatVector c00 = FloatVector.fromArray(F, c, ci), c01 = FloatVector.fromArray(F, c, ci + L);
                FloatVector c10 = FloatVector.fromArray(F, c, ci + ldc), c11 = FloatVector.fromArray(F, c, ci + ldc + L);
                FloatVector c20 = FloatVector.fromArray(F, c, ci + 2 * ldc), c21 = FloatVector.fromArray(F, c, ci + 2 * ldc + L);
                FloatVector c30 = FloatVector.fromArray(F, c, ci + 3 * ldc), c31 = FloatVector.fromArray(F, c, ci + 3 * ldc + L);
                FloatVector c40 = FloatVector.fromArray(F, c, ci + 4 * ldc), c41 = FloatVector.fromArray(F, c, ci + 4 * ldc + L);
                FloatVector c50 = FloatVector.fromArray(F, c, ci + 5 * ldc), c51 = FloatVector.fromArray(F, c, ci + 5 * ldc + L);
                FloatVector s0 = FloatVector.fromArray(F, alpha, n), s1 = FloatVector.fromArray(F, alpha, n + L);
                c00 = c00.mul(s0); c01 = c01.mul(s1); c10 = c10.mul(s0); c11 = c11.mul(s1);
                c20 = c20.mul(s0); c21 = c21.mul(s1); c30 = c30.mul(s0); c31 = c31.mul(s1);
                c40 = c40.mul(s0); c41 = c41.mul(s1); c50 = c50.mul(s0); c51 = c51.mul(s1);
                for (int kk = 0, bi = n, ai = aOff + m; kk < K; kk++, bi += ldb, ai += lda) {
                    FloatVector b0 = FloatVector.fromArray(F, b, bi), b1 = FloatVector.fromArray(F, b, bi + L);
                    FloatVector x = FloatVector.broadcast(F, a[ai]);
                    c00 = b0.fma(x, c00); c01 = b1.fma(x, c01);
                    x = FloatVector.broadcast(F, a[ai + 1]);
                    c10 = b0.fma(x, c10); c11 = b1.fma(x, c11);
                    x = FloatVector.broadcast(F, a[ai + 2]);
                    c20 = b0.fma(x, c20); c21 = b1.fma(x, c21);
                    x = FloatVector.broadcast(F, a[ai + 3]);
                    c30 = b0.fma(x, c30); c31 = b1.fma(x, c31);
                    x = FloatVector.broadcast(F, a[ai + 4]);
                    c40 = b0.fma(x, c40); c41 = b1.fma(x, c41);
                    x = FloatVector.broadcast(F, a[ai + 5]);
                    c50 = b0.fma(x, c50); c51 = b1.fma(x, c51);
                }
                if (skip < 1) { c00.intoArray(c, ci); c01.intoArray(c, ci + L); }
                if (skip < 2) { c10.intoArray(c, ci + ldc); c11.intoArray(c, ci + ldc + L); }
                if (skip < 3) { c20.intoArray(c, ci + 2 * ldc); c21.intoArray(c, ci + 2 * ldc + L); }
                if (skip < 4) { c30.intoArray(c, ci + 3 * ldc); c31.intoArray(c, ci + 3 * ldc + L); }
                if (skip < 5) { c40.intoArray(c, ci + 4 * ldc); c41.intoArray(c, ci + 4 * ldc + L); }
                c50.intoArray(c, ci + 5 * ldc); c51.intoArray(c, ci + 5 * ldc + L);
            }
            for (; n < N; n += L) {
                int ci = m * ldc + n;
                FloatVector c0 = FloatVector.fromArray(F, c, ci), c1 = FloatVector.fromArray(F, c, ci + ldc),
                        c2 = FloatVector.fromArray(F, c, ci + 2 * ldc), c3 = FloatVector.fromArray(F, c, ci + 3 * ldc),
                        c4 = FloatVector.fromArray(F, c, ci + 4 * ldc), c5 = FloatVector.fromArray(F, c, ci + 5 * ldc);
                FloatVector s0 = FloatVector.fromArray(F, alpha, n);
                c0 = c0.mul(s0); c1 = c1.mul(s0); c2 = c2.mul(s0); c3 = c3.mul(s0); c4 = c4.mul(s0); c5 = c5.mul(s0);
                for (int kk = 0, bi = n, ai = aOff + m; kk < K; kk++, bi += ldb, ai += lda) {
                    FloatVector b0 = FloatVector.fromArray(F, b, bi);
                    c0 = b0.fma(FloatVector.broadcast(F, a[ai]), c0);
                    c1 = b0.fma(FloatVector.broadcast(F, a[ai + 1]), c1);
                    c2 = b0.fma(FloatVector.broadcast(F, a[ai + 2]), c2);
                    c3 = b0.fma(FloatVector.broadcast(F, a[ai + 3]), c3);
                    c4 = b0.fma(FloatVector.broadcast(F, a[ai + 4]), c4);
                    c5 = b0.fma(FloatVector.broadcast(F, a[ai + 5]), c5);
                }
                if (skip < 1) c0.intoArray(c, ci);
                if (skip < 2) c1.intoArray(c, ci + ldc);
                if (skip < 3) c2.intoArray(c, ci + 2 * ldc);
                if (skip < 4) c3.intoArray(c, ci + 3 * ldc);
                if (skip < 5) c4.intoArray(c, ci + 4 * ldc);
                c5.intoArray(c, ci + 5 * ldc);
            }
        }
    }

    // mulCols for M < 6 (tiny head dimensions), one row and one vector at a time.
    private static void mulColsNarrow(float[] c, int ldc, float[] alpha, float[] a, int aOff, int lda, int M, int K,
                                      float[] b, int ldb, int N) {
        for (int m = 0; m < M; m++)
            for (int n = 0; n < N; n += L) {
                int ci = m * ldc + n;
                FloatVector c0 = FloatVector.fromArray(F, c, ci);
                c0 = c0.mul(FloatVector.fromArray(F, alpha, n));
                for (int kk = 0, bi = n, ai = aOff + m; kk < K; kk++, bi += ldb, ai += lda)
                    c0 = FloatVector.fromArray(F, b, bi).fma(FloatVector.broadcast(F, a[ai]), c0);
                c0.intoArray(c, ci);
            }
    }

    // ---------------------------------------------------------------------------------------
    // exp2 for softmax arguments x <= 127. Cephes exp2f: 2^x = 2^n * 2^f with n = round(x),
    // |f| <= 1/2, 2^f by a degree-6 polynomial (about 1 ulp), 2^n added into the exponent bits.
    // Below 2^-125 (and for x = -inf) the result is exactly 0. Every step is an exact IEEE op, so
    // vector, interpreted and compiled code agree bitwise. No max/min: Java's NaN-aware
    // FloatVector.max costs several instructions on AVX2, a compare and blend costs two.

    private static final float MAGIC = 12582912f; // 1.5 * 2^23: x + MAGIC rounds x to an integer
    private static final float P0 = 1.535336188319500e-4f, P1 = 1.339887440266574e-3f,
            P2 = 9.618437357674640e-3f, P3 = 5.550332471162809e-2f, P4 = 2.402264791363012e-1f,
            P5 = 6.931472028550421e-1f;

    static FloatVector exp2(FloatVector x) {
        FloatVector t = x.add(MAGIC);
        FloatVector f = x.sub(t.sub(MAGIC));
        FloatVector p = f.fma(P0, P1);
        p = p.fma(f, FloatVector.broadcast(F, P2));
        p = p.fma(f, FloatVector.broadcast(F, P3));
        p = p.fma(f, FloatVector.broadcast(F, P4));
        p = p.fma(f, FloatVector.broadcast(F, P5));
        p = p.fma(f, FloatVector.broadcast(F, 1f));
        // The integer n sits in the low bits of t; shifted by 23 it is 2^n's exponent increment.
        IntVector n = t.reinterpretAsInts().lanewise(VectorOperators.LSHL, 23);
        return p.reinterpretAsInts().add(n).reinterpretAsFloats().blend(0f, x.lt(-125f));
    }

    // ---------------------------------------------------------------------------------------
    // Checks

    private static void check(int B, int Tq, int Tk, int kvCap, int qPos0, int Hq, int Hkv, int D) {
        if (B < 0 || Tq < 0 || Tk < 0 || qPos0 < 0 || D < 1 || Hq < 1 || Hkv < 1)
            throw new IllegalArgumentException(String.format(
                    "attention: bad shape B=%d Tq=%d Tk=%d qPos0=%d Hq=%d Hkv=%d D=%d", B, Tq, Tk, qPos0, Hq, Hkv, D));
        if (Hq % Hkv != 0)
            throw new IllegalArgumentException("attention: n_kv_heads " + Hkv + " must divide n_heads " + Hq);
        if (Tk > kvCap)
            throw new IllegalArgumentException("attention: Tk " + Tk + " exceeds kvCapacity " + kvCap);
        if (Tq > 0 && Tk == 0)
            throw new IllegalArgumentException("attention: " + Tq + " queries but no keys");
        if ((long) qPos0 + Tq > (1 << 24))
            throw new IllegalArgumentException("attention: positions beyond 2^24 are not supported");
    }

    private static void checkQ(float[] a, int off, String name, int B, int Tq, int Hq, int D) {
        checkLen(a, off, (long) B * Tq * Hq * D, name);
    }

    private static void checkKv(float[] a, int off, String name, int B, int kvCap, int Tk, int Hkv, int D) {
        checkLen(a, off, B == 0 ? 0 : ((long) (B - 1) * kvCap + Tk) * Hkv * D, name);
    }

    private static void checkLen(float[] a, int off, long n, String name) {
        if (off < 0 || off + n > a.length)
            throw new IllegalArgumentException(String.format(
                    "attention: %s needs %d floats from offset %d but has length %d", name, n, off, a.length));
    }

    static int roundUp(int n, int m) {
        return (n + m - 1) / m * m;
    }

    // ---------------------------------------------------------------------------------------
    // Per-thread scratch: numbered float and int slots, grown on demand, never shrunk.

    private static final class Scratch {
        private static final ThreadLocal<Scratch> LOCAL = ThreadLocal.withInitial(Scratch::new);
        private final float[][] f = new float[16][];
        private final int[][] i = new int[4][];
        private float[] ones;

        static Scratch get() {
            return LOCAL.get();
        }

        float[] floats(int slot, int n) {
            float[] a = f[slot];
            if (a == null || a.length < n) f[slot] = a = new float[Math.max(n, 16)];
            return a;
        }

        float[] ones(int n) {
            if (ones == null || ones.length < n) java.util.Arrays.fill(ones = new float[Math.max(n, 16)], 1f);
            return ones;
        }

        int[] ints(int slot, int n) {
            int[] a = i[slot];
            if (a == null || a.length < n) i[slot] = a = new int[Math.max(n, 16)];
            return a;
        }
    }
}
