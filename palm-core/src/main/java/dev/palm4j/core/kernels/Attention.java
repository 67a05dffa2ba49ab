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
 * whose vector lanes always run over a padded tile dimension (query rows or keys), never over
 * the head dimension D: any D >= 1 works without tail code, and the softmax statistics are
 * lane-wise with no horizontal reductions.
 *
 * <p>Threading and determinism. Work is split over (batch, kv head, tile) tasks through
 * {@link Parallel}; each task writes a disjoint part of the outputs and does its reductions in a
 * fixed order, so results are bitwise identical for every Parallel width. Only IEEE-exact vector
 * operations are used (fma, add, max, integer bit tricks; no reduceLanes(ADD), no SVML exp), so
 * interpreted and JIT-compiled code give the same bits too.
 *
 * <p>Memory. Per-thread scratch (a few tiles, tens of KB) lives in a lazily grown
 * {@link ThreadLocal}, so after the first call on each thread nothing is allocated. The choice
 * keeps the API free of workspace arguments; Parallel's threads are long-lived, so the buffers
 * are reused from step to step. Backward also keeps one (B, Hq, Tq) buffer for the row terms
 * D_i = rowsum(dout * out) in the calling thread's scratch.
 */
public final class Attention {
    private Attention() {}

    private static final VectorSpecies<Float> F = Simd.F;
    private static final int L = Simd.LANES;

    static final int QROWS = 64; // target query rows (tokens x heads of a group) per query tile
    static final int KTILE = 64; // keys per key tile
    static final int BROWS = 64; // query rows per block in the dk/dv pass

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
        Tiles qt = Tiles.of(Tq, Hq / Hkv);
        int bg = B * Hkv;
        // Later query tiles see more keys: hand them out first so the dynamic split balances.
        par.forEach(bg * qt.n, task -> {
            int tile = qt.n - 1 - task / bg, b = task % bg / Hkv, g = task % Hkv;
            forwardTile(Scratch.get(), out, outOff, lse, lseOff, q, qOff, k, kOff, v, vOff,
                    b, g, tile * qt.tokens, Math.min(Tq, (tile + 1) * qt.tokens),
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
            mulRows(st, Rp, k, kOff + kv, ldkv, C, D, qt, Rp, Rp);             // s^T = k q^T
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
            FloatVector p = FloatVector.fromArray(F, pos, r0);
            for (int j = 0, i = r0; j < C; j++, i += Rp) {
                FloatVector s = FloatVector.fromArray(F, st, i);
                if (mask) s = s.blend(Float.NEGATIVE_INFINITY, p.lt(j0 + j));
                mx = mx.max(s);
            }
            FloatVector sum = FloatVector.zero(F);
            for (int j = 0, i = r0; j < C; j++, i += Rp) {
                FloatVector e = exp2(FloatVector.fromArray(F, st, i).sub(mx));
                if (mask) e = e.blend(0f, p.lt(j0 + j));
                e.intoArray(st, i);
                sum = sum.add(e);
            }
            FloatVector a = exp2(mOld.sub(mx)); // first tile: exp2(-inf) clamps to 2^-126, times 0
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
     * <p>Two passes, so no two tasks ever write the same gradient row and no atomics are needed:
     * dq over (batch, kv head, query tile), then dk, dv over (batch, kv head, key tile), each
     * recomputing the scores it needs.
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
        if (B == 0) return;
        int G = Hq / Hkv, bg = B * Hkv;
        // D_i = rowsum(dout * out), once per row, in the caller's scratch (same layout as lse).
        float[] di = Scratch.get().floats(7, B * Hq * Tq);
        par.forRange(B * Tq, Math.max(1, 4096 / (Hq * D)), (lo, hi) -> {
            for (int bt = lo; bt < hi; bt++)
                for (int h = 0; h < Hq; h++) {
                    int o = (bt * Hq + h) * D, b = bt / Tq, t = bt % Tq;
                    float s = 0;
                    for (int d = 0; d < D; d++) s += dout[doutOff + o + d] * out[outOff + o + d];
                    di[(b * Hq + h) * Tq + t] = s;
                }
        });
        if (Tq > 0) {
            Tiles qt = Tiles.of(Tq, G);
            par.forEach(bg * qt.n, task -> {
                int tile = qt.n - 1 - task / bg, b = task % bg / Hkv, g = task % Hkv;
                dqTile(Scratch.get(), dq, dqOff, dout, doutOff, di, lse, lseOff, q, qOff, k, kOff, v, vOff,
                        b, g, tile * qt.tokens, Math.min(Tq, (tile + 1) * qt.tokens),
                        Tq, Tk, kvCapacity, qPos0, Hq, Hkv, D, scale);
            });
        }
        int nk = (Tk + KTILE - 1) / KTILE;
        // Early key tiles are seen by more queries: hand them out first.
        par.forEach(bg * nk, task -> {
            int tile = task / bg, b = task % bg / Hkv, g = task % Hkv;
            dkvTile(Scratch.get(), dk, dkOff, dv, dvOff, dout, doutOff, di, lse, lseOff, q, qOff, k, kOff, v, vOff,
                    b, g, tile * KTILE, Math.min(Tk, (tile + 1) * KTILE),
                    Tq, kvCapacity, qPos0, Hq, Hkv, D, scale);
        });
    }

    // dq for one query tile (tokens [t0,t1) x the G heads of kv head g), transposed layout as in
    // forwardTile: p^T = exp2(s^T - lse), ds^T = p^T (dp^T - D_i), dq^T += k^T ds^T.
    private static void dqTile(Scratch ws, float[] dq, int dqOff, float[] dout, int doutOff, float[] di,
                               float[] lse, int lseOff, float[] q, int qOff, float[] k, int kOff, float[] v, int vOff,
                               int b, int g, int t0, int t1, int Tq, int Tk, int kvCap, int qPos0,
                               int Hq, int Hkv, int D, float scale) {
        int G = Hq / Hkv, R = (t1 - t0) * G, Rp = roundUp(R, L);
        int[] rows = ws.ints(0, R);
        float[] qt = ws.floats(0, D * Rp), st = ws.floats(1, KTILE * Rp), dqt = ws.floats(2, D * Rp);
        float[] pos = ws.floats(3, Rp), lse2 = ws.floats(4, Rp), dd = ws.floats(5, Rp);
        float[] dot = ws.floats(6, D * Rp), dpt = ws.floats(8, KTILE * Rp);
        queryRows(rows, pos, b, g, t0, t1, Tq, qPos0, Hq, G, D, Rp);
        transposeRows(qt, Rp, q, qOff, rows, R, D, scale * LOG2E);
        transposeRows(dot, Rp, dout, doutOff, rows, R, D, 1f);
        rowStats(lse2, dd, Rp, lse, lseOff, di, b, g, t0, t1, Tq, Hq, G);
        java.util.Arrays.fill(dqt, 0, D * Rp, 0f);
        int kEnd = Math.min(Tk, qPos0 + t1);
        for (int j0 = 0; j0 < kEnd; j0 += KTILE) {
            int C = Math.min(KTILE, kEnd - j0);
            int kv = ((b * kvCap + j0) * Hkv + g) * D, ldkv = Hkv * D;        // key j0 of head g
            mulRows(st, Rp, k, kOff + kv, ldkv, C, D, qt, Rp, Rp);             // s^T = k q^T
            mulRows(dpt, Rp, v, vOff + kv, ldkv, C, D, dot, Rp, Rp);           // dp^T = v dout^T
            boolean mask = j0 + C - 1 > qPos0 + t0;
            for (int r0 = 0; r0 < Rp; r0 += L) {
                FloatVector ls = FloatVector.fromArray(F, lse2, r0), dv = FloatVector.fromArray(F, dd, r0);
                FloatVector p = FloatVector.fromArray(F, pos, r0);
                for (int j = 0, i = r0; j < C; j++, i += Rp) {
                    FloatVector e = exp2(FloatVector.fromArray(F, st, i).sub(ls));
                    if (mask) e = e.blend(0f, p.lt(j0 + j));
                    e.mul(FloatVector.fromArray(F, dpt, i).sub(dv)).intoArray(dpt, i); // ds^T
                }
            }
            mulCols(dqt, Rp, ws.ones(Rp), k, kOff + kv, ldkv, D, C, dpt, Rp, Rp);      // dq^T += k^T ds^T
        }
        for (int r = 0; r < R; r++) {
            int o = dqOff + rows[r];
            for (int d = 0; d < D; d++) dq[o + d] = dqt[d * Rp + r] * scale;
        }
    }

    // dk, dv for keys [j0,j1) of kv head g, against every query row (token, head of the group)
    // that sees them, in blocks of BROWS rows. Here keys run along the lanes: s = q k^T is
    // (R, Cp), and the accumulators dk^T, dv^T are (D, Cp).
    private static void dkvTile(Scratch ws, float[] dk, int dkOff, float[] dv, int dvOff,
                                float[] dout, int doutOff, float[] di, float[] lse, int lseOff,
                                float[] q, int qOff, float[] k, int kOff, float[] v, int vOff,
                                int b, int g, int j0, int j1, int Tq, int kvCap, int qPos0,
                                int Hq, int Hkv, int D, float scale) {
        int G = Hq / Hkv, C = j1 - j0, Cp = roundUp(C, L);
        int tokens = Math.max(1, BROWS / G), Rmax = tokens * G;
        int[] rows = ws.ints(0, Rmax), keys = ws.ints(1, C);
        float[] kt = ws.floats(0, D * Cp), vt = ws.floats(1, D * Cp);
        float[] dkt = ws.floats(2, D * Cp), dvt = ws.floats(3, D * Cp);
        float[] s = ws.floats(4, Rmax * Cp), dp = ws.floats(5, Rmax * Cp);
        float[] pos = ws.floats(6, Rmax), lse2 = ws.floats(8, Rmax), dd = ws.floats(9, Rmax);
        float[] qb = ws.floats(10, Rmax * D), dob = ws.floats(11, Rmax * D), ones = ws.ones(Cp);
        keyRows(keys, b, g, j0, C, kvCap, Hkv, D);
        transposeRows(kt, Cp, k, kOff, keys, C, D, scale * LOG2E);
        transposeRows(vt, Cp, v, vOff, keys, C, D, 1f);
        java.util.Arrays.fill(dkt, 0, D * Cp, 0f);
        java.util.Arrays.fill(dvt, 0, D * Cp, 0f);
        FloatVector iota = FloatVector.fromArray(F, IOTA, 0);
        for (int ta = Math.max(0, j0 - qPos0); ta < Tq; ta += tokens) {
            int tb = Math.min(Tq, ta + tokens), R = (tb - ta) * G;
            queryRows(rows, pos, b, g, ta, tb, Tq, qPos0, Hq, G, D, R);
            rowStats(lse2, dd, R, lse, lseOff, di, b, g, ta, tb, Tq, Hq, G);
            pack(qb, q, qOff, rows, R, D);
            pack(dob, dout, doutOff, rows, R, D);
            mulRows(s, Cp, qb, 0, D, R, D, kt, Cp, Cp);                         // s = q k^T
            mulRows(dp, Cp, dob, 0, D, R, D, vt, Cp, Cp);                       // dp = dout v^T
            // Key j0+j is visible to row r iff j0+j <= pos[r]. Padding keys (j >= C) need no mask:
            // lanes never mix, and their columns of dk^T, dv^T are never written out.
            boolean mask = qPos0 + ta < j1 - 1;
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
            mulCols(dvt, Cp, ones, dob, 0, D, D, R, s, Cp, Cp);                 // dv^T += dout^T p
            mulCols(dkt, Cp, ones, qb, 0, D, D, R, dp, Cp, Cp);                 // dk^T += q^T ds
        }
        for (int j = 0; j < C; j++) {
            int ok = dkOff + keys[j], ov = dvOff + keys[j];
            for (int d = 0; d < D; d++) {
                dk[ok + d] = dkt[d * Cp + j] * scale;
                dv[ov + d] = dvt[d * Cp + j];
            }
        }
    }

    // ---------------------------------------------------------------------------------------
    // Tiles and rows

    // Query tiling: `tokens` tokens per tile so a tile holds about QROWS rows of G heads each.
    private record Tiles(int tokens, int n) {
        static Tiles of(int Tq, int G) {
            int tokens = Math.max(1, QROWS / G);
            return new Tiles(tokens, (Tq + tokens - 1) / tokens);
        }
    }

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

    // c (M, N) = a (M, K) b (K, N), where a[m][k] = a[aOff + m*lda + k] and b has row stride ldb.
    static void mulRows(float[] c, int ldc, float[] a, int aOff, int lda, int M, int K,
                        float[] b, int ldb, int N) {
        for (int m = 0; m < M; m += 6) {
            int h = Math.min(6, M - m), last = M - 1;
            int a0 = aOff + m * lda, a1 = aOff + Math.min(m + 1, last) * lda, a2 = aOff + Math.min(m + 2, last) * lda,
                    a3 = aOff + Math.min(m + 3, last) * lda, a4 = aOff + Math.min(m + 4, last) * lda,
                    a5 = aOff + Math.min(m + 5, last) * lda;
            int n = 0;
            for (; n + 2 * L <= N; n += 2 * L) {
                FloatVector c00 = FloatVector.zero(F), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00,
                        c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
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
                int ci = m * ldc + n;
                c00.intoArray(c, ci); c01.intoArray(c, ci + L);
                if (h > 1) { c10.intoArray(c, ci + ldc); c11.intoArray(c, ci + ldc + L); }
                if (h > 2) { c20.intoArray(c, ci + 2 * ldc); c21.intoArray(c, ci + 2 * ldc + L); }
                if (h > 3) { c30.intoArray(c, ci + 3 * ldc); c31.intoArray(c, ci + 3 * ldc + L); }
                if (h > 4) { c40.intoArray(c, ci + 4 * ldc); c41.intoArray(c, ci + 4 * ldc + L); }
                if (h > 5) { c50.intoArray(c, ci + 5 * ldc); c51.intoArray(c, ci + 5 * ldc + L); }
            }
            for (; n < N; n += L) {
                FloatVector c0 = FloatVector.zero(F), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0;
                for (int kk = 0, bi = n; kk < K; kk++, bi += ldb) {
                    FloatVector b0 = FloatVector.fromArray(F, b, bi);
                    c0 = b0.fma(FloatVector.broadcast(F, a[a0 + kk]), c0);
                    c1 = b0.fma(FloatVector.broadcast(F, a[a1 + kk]), c1);
                    c2 = b0.fma(FloatVector.broadcast(F, a[a2 + kk]), c2);
                    c3 = b0.fma(FloatVector.broadcast(F, a[a3 + kk]), c3);
                    c4 = b0.fma(FloatVector.broadcast(F, a[a4 + kk]), c4);
                    c5 = b0.fma(FloatVector.broadcast(F, a[a5 + kk]), c5);
                }
                int ci = m * ldc + n;
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
    // exp2 for softmax arguments (x <= ~0). Cephes exp2f: 2^x = 2^n * 2^f with n = round(x),
    // |f| <= 1/2, 2^f by a degree-6 polynomial (about 1 ulp); 2^n added into the exponent bits.
    // x is clamped to [-126, 127], so exp2(-inf) = 2^-126 (callers that need exact zeros mask).
    // Every step is an exact IEEE op, so vector, interpreted and compiled code agree bitwise.

    private static final float MAGIC = 12582912f; // 1.5 * 2^23: x + MAGIC rounds x to an integer
    private static final float P0 = 1.535336188319500e-4f, P1 = 1.339887440266574e-3f,
            P2 = 9.618437357674640e-3f, P3 = 5.550332471162809e-2f, P4 = 2.402264791363012e-1f,
            P5 = 6.931472028550421e-1f;

    static FloatVector exp2(FloatVector x) {
        x = x.max(-126f).min(127f);
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
        return p.reinterpretAsInts().add(n).reinterpretAsFloats();
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
        private final float[][] f = new float[12][];
        private final int[][] i = new int[2][];
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
