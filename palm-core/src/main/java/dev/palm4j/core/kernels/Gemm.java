package dev.palm4j.core.kernels;

import java.lang.invoke.VarHandle;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * Single-precision matrix multiply, the only place palm4j spends most of its FLOPs.
 *
 * <p>{@code C (M,N) (+)= op(A) (M,K) . op(B) (K,N)}, all row-major with explicit row strides
 * ({@code lda}, {@code ldb}, {@code ldc}), where {@code op(A)} is A or A stored transposed (K,M)
 * and {@code op(B)} is B or B stored transposed (N,K). Training needs all three forms:
 * forward {@code y = x . W^T} (NT), input gradient {@code dx = dy . W} (NN), weight gradient
 * {@code dW = dy^T . x} (TN).
 *
 * <p>Goto/BLIS structure: B is packed per (KC x NC) block into NR-wide column slivers (as many
 * K blocks per round as fit {@link #WHOLE_K}, in narrower column blocks when K is deep), A per
 * (MC x KC) block into MR-tall row slivers, and a register-blocked MR x NR micro-kernel
 * accumulates a tile of C in vector registers over the whole KC depth. Packing turns every
 * transpose into the same inner loop. Threads split the M blocks (and the N range when there are
 * too few M blocks); the K blocks run in a fixed order, so every element of C is summed in the
 * same order whatever the thread count: results are bitwise identical for every width.
 */
public final class Gemm {
    private Gemm() {}

    private static final VectorSpecies<Float> F = Simd.F;
    private static final int L = F.length();
    /**
     * Micro-tile: MR rows of C by NR = 2 vectors of columns. With AVX-512 (32 vector registers)
     * 12 rows, 24 accumulators: the tile alone runs at 98% of the FMA peak where 5 rows ran at
     * 90%, and it reads half as much of A per FMA (docs/benchmarks.md). With narrower vectors
     * (AVX2: 16 registers) 5 rows, 10 accumulators: with 12, 2 B vectors and 2 broadcasts the
     * loop needs all 16, and in most JVMs of one benchmark C2's allocator split the
     * accumulators' live ranges (two spilled, three copied per step: the GEMMs of a whole run
     * 1.7-1.9x slower). Five rows leave four registers free.
     */
    static final int MR = L >= 16 ? 12 : 5;
    static final int NR = 2 * L;
    /**
     * Whether micro5's loop holds a load fence (see there): on JDKs after 17. Measured on 17
     * (better without) and 25 (1.3x with); 18-24 were not, and get the loop that does not spill.
     */
    static final boolean FENCE_LOADS = Runtime.version().feature() > 17;
    /**
     * Floats per depth step in a packed A sliver: MR values and the rest padding. A packed B sliver
     * is two arrays, its left and right L columns, L floats per depth step; with AS = L one loop
     * counter indexes all three, and C2 compiles a loop with no bounds checks and no index
     * arithmetic (see micro). Vectors narrower than MR floats (64- and 128-bit, only ever chosen by
     * the override property) use AS = 8 and a shift for the B index.
     */
    static final int AS = Math.max(L, 8);
    /** B index = A index >>> B_SHIFT (0 at 256 and 512 bits): AS = L << B_SHIFT. */
    static final int B_SHIFT = Integer.numberOfTrailingZeros(AS) - Integer.numberOfTrailingZeros(L);
    /**
     * Cache blocks: a KC x NR sliver of B (32 KB, in two arrays: KC 512 with AVX2, 256 with
     * AVX-512) stays in L1 while an MC x KC block of A streams from L2. A deep KC means fewer
     * passes over C and fewer packing rounds (each a thread barrier): on 2 AVX2 cores KC 512 gave
     * 150-160 GFLOP/s at n = 1024-2048 against 115-125 with 256; on Zen 5 (48 KB L1) KC 192 and
     * 320 ran 0.92-0.94x and 1.00x of 256, and MC 48-576 0.93-1.05x of 96
     * (docs/benchmarks.md).
     */
    static final int KC = Math.max(128, 8192 / NR);
    static final int MC = 96;
    static final int NC = 3072;
    /** Packed B of up to this many floats (8 MB) may cover the whole depth K in one round. */
    static final int WHOLE_K = 2 << 20;
    /** Columns of C a task runs through every K block of a packing round before the next ones. */
    static final int CHUNK_N = 512;

    // Packing buffers live per thread and only ever grow, so steady-state calls allocate nothing.
    // Every packed sliver is an array of its own, indexed from 0: the micro-kernel's loads then
    // need no offset, which C2 compiles tighter (see micro).
    private static final class Buffers {
        float[][] a = new float[0][], b = new float[0][];
        final float[] edge = new float[MR * NR];
    }

    private static final ThreadLocal<Buffers> BUFFERS = ThreadLocal.withInitial(Buffers::new);

    /** C (M,N) (+)= A (M,K) . B (K,N), dense row-major. */
    public static void matmul(Parallel par, float[] a, int aOff, float[] b, int bOff, float[] c, int cOff,
                              int m, int n, int k, boolean accumulate) {
        gemm(par, false, false, m, n, k, a, aOff, k, b, bOff, n, c, cOff, n, accumulate);
    }

    /** C (M,N) (+)= A (M,K) . B^T, with B stored (N,K): the forward {@code x . W^T}. */
    public static void matmulNT(Parallel par, float[] a, int aOff, float[] b, int bOff, float[] c, int cOff,
                                int m, int n, int k, boolean accumulate) {
        gemm(par, false, true, m, n, k, a, aOff, k, b, bOff, k, c, cOff, n, accumulate);
    }

    /** C (M,N) (+)= A^T . B, with A stored (K,M) and B (K,N): the weight gradient {@code dy^T . x}. */
    public static void matmulTN(Parallel par, float[] a, int aOff, float[] b, int bOff, float[] c, int cOff,
                                int m, int n, int k, boolean accumulate) {
        gemm(par, true, false, m, n, k, a, aOff, m, b, bOff, n, c, cOff, n, accumulate);
    }

    /**
     * General form. {@code transA}: A is stored (K,M) with row stride lda; else (M,K). {@code
     * transB}: B is stored (N,K) with row stride ldb; else (K,N). Without {@code accumulate} C is
     * overwritten (and zeroed when K = 0).
     */
    public static void gemm(Parallel par, boolean transA, boolean transB, int m, int n, int k,
                            float[] a, int aOff, int lda, float[] b, int bOff, int ldb,
                            float[] c, int cOff, int ldc, boolean accumulate) {
        if (m < 0 || n < 0 || k < 0) throw new IllegalArgumentException("negative gemm shape " + m + "x" + n + "x" + k);
        if (m == 0 || n == 0) return;
        if (k == 0) {
            if (!accumulate) for (int i = 0; i < m; i++) java.util.Arrays.fill(c, cOff + i * ldc, cOff + i * ldc + n, 0f);
            return;
        }
        if (m <= SKINNY_M && !transA && transB) {
            skinnyNT(par, m, n, k, a, aOff, lda, b, bOff, ldb, c, cOff, ldc, accumulate);
            return;
        }
        int width = par.width(), mcBlocks = (m + MC - 1) / MC;
        if (mcBlocks < 4 * width && n <= NC && (n + NR - 1) / NR >= 4 * width && (long) m * k <= WHOLE_K) {
            shortGemm(par, transA, transB, m, n, k, a, aOff, lda, b, bOff, ldb, c, cOff, ldc, accumulate);
            return;
        }
        // M blocks of about MC rows, as many as a multiple of the thread count and equal to within
        // one MR sliver, so no thread waits on another's last block (2048 rows in blocks of 96
        // were 21 full blocks and a third of one).
        int slivers = (m + MR - 1) / MR;
        int mBlocks = Math.min(slivers, (mcBlocks + width - 1) / width * width);
        int kBlocks = (k + KC - 1) / KC;
        // A deep, wide C goes in column blocks narrow enough that B is packed for all of K at once
        // (see the grouping below), at least CHUNK_N wide. Each column block packs A again:
        // 2048 x 2048 x 2048 packs it twice, 1.5% of the time.
        int ncMax = NC;
        if (kBlocks > 1 && (long) k * Math.min(n, NC) > WHOLE_K) ncMax = Math.max(CHUNK_N, WHOLE_K / k / NR * NR);
        for (int jc = 0; jc < n; jc += ncMax) {
            int nc = Math.min(ncMax, n - jc), jc0 = jc;
            int nPanels = (nc + NR - 1) / NR;
            // Enough tasks to keep every thread busy: split the N panels when M is short.
            int nSplit = Math.min(nPanels, Math.max(1, (2 * width + mBlocks - 1) / mBlocks));
            // B is packed for as many K blocks at once as fit WHOLE_K (all of K when they do): a
            // task then packs its M block of A for those K blocks and runs it through them,
            // CHUNK_N columns of C at a time, so those rows of C (MC x CHUNK_N, 196 KB, beside a
            // 300 KB block of A in a 512 KB L2) are not swept from memory once per K block, and the
            // threads meet twice per round instead of twice per K block.
            // One K block at a time, the micro-kernel's reads of C come from memory once per K
            // block, and each waits out the miss: with C kept in L1 instead (an experiment),
            // 2048^3 on one thread ran 6-34% faster (docs/benchmarks.md).
            int group = (int) Math.max(1, Math.min(kBlocks, WHOLE_K / ((long) KC * nPanels * NR)));
            for (int kb0 = 0; kb0 < kBlocks; kb0 += group) {
                int g = Math.min(group, kBlocks - kb0), first = kb0;
                float[][] bp = packedB(g * nPanels, L * Math.min(KC, k));
                par.forRange(g * nPanels, 8, (lo, hi) -> {
                    for (int i = lo; i < hi; i++) {
                        int pc = (first + i / nPanels) * KC, j0 = jc0 + i % nPanels * NR;
                        packB(transB, b, bOff, ldb, pc, Math.min(KC, k - pc), j0, Math.min(NR, n - j0), bp[2 * i], bp[2 * i + 1]);
                    }
                });
                par.forEach(mBlocks * nSplit, t -> {
                    int ib = t / nSplit, js = t % nSplit;
                    int ic = (int) ((long) slivers * ib / mBlocks) * MR, mc = Math.min(m, (int) ((long) slivers * (ib + 1) / mBlocks) * MR) - ic;
                    int p0 = nPanels * js / nSplit, p1 = nPanels * (js + 1) / nSplit;
                    int perBlock = (mc + MR - 1) / MR; // A slivers per K block
                    // With one chunk, every K block's A goes into the same slivers, still in L2
                    // from the block before; slivers of their own, kept for later chunks, were
                    // cold each time they were written (one-chunk NN and TN shapes of anchor M
                    // 1.02-1.035x on two threads).
                    boolean oneChunk = p1 - p0 <= CHUNK_N / NR;
                    float[][] ap = packedA((oneChunk ? 1 : g) * perBlock, AS * Math.min(KC, k));
                    for (int q0 = p0; q0 < p1; q0 += CHUNK_N / NR) {
                        int q1 = Math.min(p1, q0 + CHUNK_N / NR);
                        for (int i = 0; i < g; i++) { // K blocks in order: C sums in the same order for any grouping
                            int pc = (first + i) * KC, kc = Math.min(KC, k - pc);
                            // A is packed as the first chunk needs it, fresh in L2 (packing all of
                            // it first, the macro-kernel read it back from L3: TN 4736x512x4096
                            // 4-15% slower).
                            int aBase = oneChunk ? 0 : i * perBlock;
                            if (q0 == p0) packA(transA, a, aOff, lda, ic, mc, pc, kc, ap, aBase);
                            macro(ap, aBase, mc, bp, i * nPanels, q0, q1, kc, c, cOff + ic * ldc + jc0, ldc, nc, pc == 0 && !accumulate);
                        }
                    }
                });
            }
        }
    }

    // Short A (fewer than four M blocks per thread), wide C: the weight gradient of an output
    // projection, M = d. Threads would share a few M blocks and meet twice per K block around a
    // large packed B. Instead all of A is packed once (it is small), and each task owns a range of
    // N panels: it packs its own slice of B, K block by K block, and runs all of M through it, so
    // one thread's packing overlaps the other's arithmetic. The sums are those of gemm's main
    // path, in the same order. Up to two M blocks per thread at first; four (anchor M's d = 512,
    // six blocks) measured 1.04-1.16x for TN 512x2048x4096 in an in-JVM A/B, both orders.
    private static void shortGemm(Parallel par, boolean transA, boolean transB, int m, int n, int k,
                                  float[] a, int aOff, int lda, float[] b, int bOff, int ldb,
                                  float[] c, int cOff, int ldc, boolean accumulate) {
        int slivers = (m + MR - 1) / MR, kBlocks = (k + KC - 1) / KC, nPanels = (n + NR - 1) / NR;
        float[][] ap = packedA(kBlocks * slivers, AS * Math.min(KC, k));
        par.forEach(kBlocks, kb -> packA(transA, a, aOff, lda, 0, m, kb * KC, Math.min(KC, k - kb * KC), ap, kb * slivers));
        int tasks = Math.min(nPanels, 4 * par.width());
        par.forEach(tasks, t -> {
            int p0 = nPanels * t / tasks, p1 = nPanels * (t + 1) / tasks;
            float[][] bp = packedB(p1 - p0, L * Math.min(KC, k));
            for (int kb = 0; kb < kBlocks; kb++) {
                int pc = kb * KC, kc = Math.min(KC, k - pc);
                for (int panel = p0; panel < p1; panel++)
                    packB(transB, b, bOff, ldb, pc, kc, panel * NR, Math.min(NR, n - panel * NR),
                          bp[2 * (panel - p0)], bp[2 * (panel - p0) + 1]);
                // This task's slice holds panels p0..p1 from index 0, hence bBase = -p0.
                macro(ap, kb * slivers, m, bp, -p0, p0, p1, kc, c, cOff, ldc, n, pc == 0 && !accumulate);
            }
        });
    }

    /** Up to this many rows of A, {@code A . B^T} skips packing: decoding reads each weight once. */
    static final int SKINNY_M = 4;

    // C (m,n) (+)= A (m,k) . B^T with B (n,k), m <= SKINNY_M: one dot product per (row, column),
    // streaming each row of B once for all m rows. Memory-bound, as token-by-token decoding is:
    // packing B would read and write every weight again.
    private static void skinnyNT(Parallel par, int m, int n, int k, float[] a, int aOff, int lda,
                                 float[] b, int bOff, int ldb, float[] c, int cOff, int ldc, boolean accumulate) {
        par.forRange(n, 64, (lo, hi) -> {
            for (int j = lo; j < hi; j++) {
                int bj = bOff + j * ldb;
                for (int i = 0; i < m; i++) {
                    int ai = aOff + i * lda;
                    FloatVector acc0 = FloatVector.zero(F), acc1 = FloatVector.zero(F);
                    int p = 0;
                    for (int bound = k - 2 * L; p <= bound; p += 2 * L) {
                        acc0 = FloatVector.fromArray(F, a, ai + p).fma(FloatVector.fromArray(F, b, bj + p), acc0);
                        acc1 = FloatVector.fromArray(F, a, ai + p + L).fma(FloatVector.fromArray(F, b, bj + p + L), acc1);
                    }
                    for (; p <= k - L; p += L)
                        acc0 = FloatVector.fromArray(F, a, ai + p).fma(FloatVector.fromArray(F, b, bj + p), acc0);
                    float s = Simd.sum(acc0.add(acc1));
                    for (; p < k; p++) s += a[ai + p] * b[bj + p];
                    int ci = cOff + i * ldc + j;
                    c[ci] = accumulate ? c[ci] + s : s;
                }
            }
        });
    }

    // Two arrays per panel: panel i's left L columns at 2i, its right L columns at 2i + 1.
    private static float[][] packedB(int panels, int size) {
        Buffers buf = BUFFERS.get();
        buf.b = grow(buf.b, 2 * panels, size);
        return buf.b;
    }

    private static float[][] packedA(int slivers, int size) {
        Buffers buf = BUFFERS.get();
        buf.a = grow(buf.a, slivers, size);
        return buf.a;
    }

    private static float[][] grow(float[][] bufs, int count, int size) {
        if (bufs.length < count) bufs = java.util.Arrays.copyOf(bufs, count);
        for (int i = 0; i < count; i++) if (bufs[i] == null || bufs[i].length < size) bufs[i] = new float[size];
        return bufs;
    }

    // B block rows pc..pc+kc, columns j0..j0+w -> left (kc, L) columns j0..j0+L and right (kc, L)
    // columns j0+L..j0+NR, zero-padded past w.
    private static void packB(boolean transB, float[] b, int bOff, int ldb, int pc, int kc, int j0, int w,
                              float[] left, float[] right) {
        if (!transB && w == NR) {
            for (int p = 0, d = 0; p < kc; p++, d += L) {
                int src = bOff + (pc + p) * ldb + j0;
                FloatVector.fromArray(F, b, src).intoArray(left, d);
                FloatVector.fromArray(F, b, src + L).intoArray(right, d);
            }
        } else if (!transB) {
            for (int p = 0, d = 0; p < kc; p++, d += L) {
                int src = bOff + (pc + p) * ldb + j0;
                for (int j = 0; j < L; j++) {
                    left[d + j] = j < w ? b[src + j] : 0f;
                    right[d + j] = L + j < w ? b[src + L + j] : 0f;
                }
            }
        } else {
            // B stored (N,K): column j of op(B) is row j of B, contiguous along K.
            for (int j = 0; j < NR; j++) {
                float[] dst = j < L ? left : right;
                int jj = j < L ? j : j - L;
                if (j < w) {
                    int src = bOff + (j0 + j) * ldb + pc;
                    for (int p = 0; p < kc; p++) dst[p * L + jj] = b[src + p];
                } else {
                    for (int p = 0; p < kc; p++) dst[p * L + jj] = 0f;
                }
            }
        }
    }

    // A block rows ic..ic+mc, depth pc..pc+kc -> dst[dBase + s] (kc, AS) for every MR-tall
    // sliver s, rows past mc zero-padded (the AS - MR slots after each step are never read).
    private static void packA(boolean transA, float[] a, int aOff, int lda, int ic, int mc, int pc, int kc,
                              float[][] dst, int dBase) {
        if (transA) {
            // A stored (K,M): row p of the block is mc contiguous values, read once for every
            // sliver (walking one sliver at a time would touch a new page per value of p). Rows
            // go eight at a time, so that eight rows' cache misses are in flight together: one
            // row at a time, packing was 15% of a weight-gradient GEMM (TN 4736x512x4096).
            int full = mc / MR, p = 0;
            if (L >= MR && full > 0) {
                // A whole vector per sliver: its L - MR extra values land in the step's padding.
                for (int last = (full - 1) * MR + L; p + 8 <= kc && aOff + (pc + p + 7) * lda + ic + last <= a.length; p += 8) {
                    int src = aOff + (pc + p) * lda + ic, d = p * AS;
                    for (int s = 0; s < full; s++) {
                        float[] sliver = dst[dBase + s];
                        for (int r = 0, o = src + s * MR; r < 8; r++, o += lda) FloatVector.fromArray(F, a, o).intoArray(sliver, d + r * AS);
                    }
                }
            }
            for (; p < kc; p++) {
                int src = aOff + (pc + p) * lda + ic, d = p * AS;
                for (int s = 0; s < full; s++) System.arraycopy(a, src + s * MR, dst[dBase + s], d, MR);
            }
            if (full * MR < mc) {
                float[] sliver = dst[dBase + full];
                for (p = 0; p < kc; p++) {
                    int src = aOff + (pc + p) * lda + ic + full * MR, d = p * AS;
                    for (int i = 0; i < MR; i++) sliver[d + i] = full * MR + i < mc ? a[src + i] : 0f;
                }
            }
            return;
        }
        int full = mc / MR * MR;
        if (MR != 5) {
            // 16 depth steps at a time, row by row: each row's 16 values are one cache line read
            // in order, and the 16 steps of the sliver they go to (1 KB) stay in L1. Reading the
            // MR rows side by side one step at a time was 3-11% slower on whole GEMMs
            // (anchor M's input gradient, K = 4736, the most).
            for (int ir = 0; ir < full; ir += MR) {
                float[] sliver = dst[dBase + ir / MR];
                int s0 = aOff + (ic + ir) * lda + pc, p = 0;
                for (; p + 16 <= kc; p += 16) {
                    for (int i = 0; i < MR; i++) {
                        int src = s0 + i * lda + p;
                        for (int q = 0, o = p * AS + i; q < 16; q++, o += AS) sliver[o] = a[src + q];
                    }
                }
                for (; p < kc; p++) for (int i = 0, o = p * AS; i < MR; i++) sliver[o + i] = a[s0 + i * lda + p];
            }
        } else for (int ir = 0; ir < full; ir += MR) {
            // The five rows of the AVX2 tile read side by side along K, so the sliver is written
            // in order, with the rows' indices kept in registers.
            float[] sliver = dst[dBase + ir / MR];
            int s0 = aOff + (ic + ir) * lda + pc, s1 = s0 + lda, s2 = s1 + lda, s3 = s2 + lda, s4 = s3 + lda;
            for (int p = 0; p < kc; p++) {
                int o = p * AS;
                sliver[o] = a[s0 + p];
                sliver[o + 1] = a[s1 + p];
                sliver[o + 2] = a[s2 + p];
                sliver[o + 3] = a[s3 + p];
                sliver[o + 4] = a[s4 + p];
            }
        }
        for (int ir = full; ir < mc; ir += MR) {
            int h = mc - ir;
            float[] sliver = dst[dBase + ir / MR];
            for (int i = 0; i < MR; i++) {
                if (i < h) {
                    int src = aOff + (ic + ir + i) * lda + pc;
                    for (int p = 0; p < kc; p++) sliver[p * AS + i] = a[src + p];
                } else {
                    for (int p = 0; p < kc; p++) sliver[p * AS + i] = 0f;
                }
            }
        }
    }

    // C block (mc, panels p0..p1 of NR columns) (+)= packed A slivers ap[aBase ..] (mc, kc) .
    // packed B slivers bBase + p0 .. bBase + p1 (each two arrays in bp, see packedB).
    private static void macro(float[][] ap, int aBase, int mc, float[][] bp, int bBase, int p0, int p1, int kc,
                              float[] c, int cOff, int ldc, int nc, boolean overwrite) {
        float[] edge = BUFFERS.get().edge; // a partial tile is computed here, then copied
        for (int panel = p0; panel < p1; panel++) {
            int j = panel * NR, w = Math.min(NR, nc - j);
            for (int ir = 0; ir < mc; ir += MR) {
                int h = Math.min(MR, mc - ir);
                float[] as = ap[aBase + ir / MR], bl = bp[2 * (bBase + panel)], br = bp[2 * (bBase + panel) + 1];
                if (h == MR && w == NR) {
                    micro(kc, as, bl, br, c, cOff + ir * ldc + j, ldc, overwrite);
                } else {
                    micro(kc, as, bl, br, edge, 0, NR, true);
                    for (int i = 0; i < h; i++) {
                        int row = cOff + (ir + i) * ldc + j;
                        for (int jj = 0; jj < w; jj++)
                            c[row + jj] = overwrite ? edge[i * NR + jj] : c[row + jj] + edge[i * NR + jj];
                    }
                }
            }
        }
    }

    // The register tile: C (MR, NR) (+)= sum over kc of packed A column (MR) x packed B row (NR),
    // the B row as its left and right halves (bl, br: L floats per depth step each).
    private static void micro(int kc, float[] ap, float[] bl, float[] br, float[] c, int ci, int ldc,
                              boolean overwrite) {
        if (MR == 12) micro12(kc, ap, bl, br, c, ci, ldc, overwrite);
        else micro5(kc, ap, bl, br, c, ci, ldc, overwrite);
    }

    // The AVX2 tile: C (5, NR) (+)= packed A (5 per depth step, AS apart) x packed B.
    private static void micro5(int kc, float[] ap, float[] bl, float[] br, float[] c, int ci, int ldc,
                               boolean overwrite) {
        FloatVector z = FloatVector.zero(F);
        FloatVector c00 = z, c01 = z, c10 = z, c11 = z, c20 = z, c21 = z,
                c30 = z, c31 = z, c40 = z, c41 = z;
        // One counter indexes the A sliver and both B halves (AS = L): C2 proves every load in
        // bounds once, before the loop, and the loop is the 17 loads and FMAs and 3 instructions of
        // loop control, with nothing to compute per step. That matters because the loop is bound by
        // instruction dispatch more than by the two FMA units, the more so when a neighbour shares
        // the core (docs/benchmarks.md): with one B array indexed 2 * aq it was 26 instructions
        // per 10 FMAs, and with a counter p and indices p * MR, p * NR (bounds checks left in) 37
        // per 12.
        //
        // The test that never passes is there on purpose. A loop this small with only array
        // indices of the counter is one C2's superword analysis unrolls 8 times, and the unrolled
        // body, its loads hoisted, spills half the accumulators (twice as slow). Control flow in
        // the body makes that analysis give up, and C2 then unrolls only by its size rule, twice,
        // without a spill (43 instructions per 20 FMAs). An equality test is one neither range
        // check elimination nor loop predication moves out of the loop, and it costs a compare
        // and a branch that is never taken.
        //
        // The load fence is for JDK 25. JDK 17 unrolls this loop twice and keeps the two steps
        // apart, split by the second step's test. JDK 25 moves both tests to the top, loads both
        // steps' B vectors and broadcasts together beside the 10 accumulators, and spills one
        // accumulator through the stack: a store-to-load chain in the loop that made every AVX2
        // GEMM 0.75x of JDK 17's. With the fence after the test, both JDKs compile one step per
        // iteration without a spill, 21 instructions per 10 FMAs (the fence without the test:
        // unrolled, and spilling on JDK 25). On x86 a load-load fence emits no instruction; it
        // only keeps the compiler from moving loads across it. JDK 17 keeps its unrolled loop
        // (1.02x the fenced one there); FENCE_LOADS is a constant, so the test folds away.
        for (int aq = 0, end = kc * AS, never = end + AS; aq < end; aq += AS) {
            if (aq == never) throw new IllegalStateException("micro-kernel past its depth");
            if (FENCE_LOADS) VarHandle.loadLoadFence();
            int bq = aq >>> B_SHIFT;
            FloatVector b0 = FloatVector.fromArray(F, bl, bq);
            FloatVector b1 = FloatVector.fromArray(F, br, bq);
            FloatVector a0 = FloatVector.broadcast(F, ap[aq]);
            c00 = a0.fma(b0, c00); c01 = a0.fma(b1, c01);
            FloatVector a1 = FloatVector.broadcast(F, ap[aq + 1]);
            c10 = a1.fma(b0, c10); c11 = a1.fma(b1, c11);
            FloatVector a2 = FloatVector.broadcast(F, ap[aq + 2]);
            c20 = a2.fma(b0, c20); c21 = a2.fma(b1, c21);
            FloatVector a3 = FloatVector.broadcast(F, ap[aq + 3]);
            c30 = a3.fma(b0, c30); c31 = a3.fma(b1, c31);
            FloatVector a4 = FloatVector.broadcast(F, ap[aq + 4]);
            c40 = a4.fma(b0, c40); c41 = a4.fma(b1, c41);
        }
        // The stores are written out here, not in a helper taking the accumulators: a helper call
        // that C2 judges cold (it does in some runs, "too big" at 52 bytecodes) passes the vectors
        // boxed to code that stores them lane by lane, a quarter of a GEMM's time. Vector API
        // methods themselves are always inlined.
        int c1 = ci + ldc, c2 = c1 + ldc, c3 = c2 + ldc, c4 = c3 + ldc;
        if (!overwrite) {
            c00 = c00.add(FloatVector.fromArray(F, c, ci)); c01 = c01.add(FloatVector.fromArray(F, c, ci + L));
            c10 = c10.add(FloatVector.fromArray(F, c, c1)); c11 = c11.add(FloatVector.fromArray(F, c, c1 + L));
            c20 = c20.add(FloatVector.fromArray(F, c, c2)); c21 = c21.add(FloatVector.fromArray(F, c, c2 + L));
            c30 = c30.add(FloatVector.fromArray(F, c, c3)); c31 = c31.add(FloatVector.fromArray(F, c, c3 + L));
            c40 = c40.add(FloatVector.fromArray(F, c, c4)); c41 = c41.add(FloatVector.fromArray(F, c, c4 + L));
        }
        c00.intoArray(c, ci); c01.intoArray(c, ci + L);
        c10.intoArray(c, c1); c11.intoArray(c, c1 + L);
        c20.intoArray(c, c2); c21.intoArray(c, c2 + L);
        c30.intoArray(c, c3); c31.intoArray(c, c3 + L);
        c40.intoArray(c, c4); c41.intoArray(c, c4 + L);
    }

    // The 512-bit tile: C (12, NR) (+)= packed A (12 per depth step) x packed B, 24 accumulators
    // of the 32 AVX-512 registers, with 2 B vectors and a broadcast beside them. Same loop
    // structure as micro5 (see there for the test that never passes and the written-out stores).
    private static void micro12(int kc, float[] ap, float[] bl, float[] br, float[] c, int ci, int ldc,
                                boolean overwrite) {
        FloatVector z = FloatVector.zero(F);
        FloatVector cl0 = z, cr0 = z, cl1 = z, cr1 = z, cl2 = z, cr2 = z, cl3 = z, cr3 = z;
        FloatVector cl4 = z, cr4 = z, cl5 = z, cr5 = z, cl6 = z, cr6 = z, cl7 = z, cr7 = z;
        FloatVector cl8 = z, cr8 = z, cl9 = z, cr9 = z, cl10 = z, cr10 = z, cl11 = z, cr11 = z;
        for (int aq = 0, end = kc * AS, never = end + AS; aq < end; aq += AS) {
            if (aq == never) throw new IllegalStateException("micro-kernel past its depth");
            int bq = aq >>> B_SHIFT;
            FloatVector b0 = FloatVector.fromArray(F, bl, bq);
            FloatVector b1 = FloatVector.fromArray(F, br, bq);
            FloatVector a0 = FloatVector.broadcast(F, ap[aq]);
            cl0 = a0.fma(b0, cl0); cr0 = a0.fma(b1, cr0);
            FloatVector a1 = FloatVector.broadcast(F, ap[aq + 1]);
            cl1 = a1.fma(b0, cl1); cr1 = a1.fma(b1, cr1);
            FloatVector a2 = FloatVector.broadcast(F, ap[aq + 2]);
            cl2 = a2.fma(b0, cl2); cr2 = a2.fma(b1, cr2);
            FloatVector a3 = FloatVector.broadcast(F, ap[aq + 3]);
            cl3 = a3.fma(b0, cl3); cr3 = a3.fma(b1, cr3);
            FloatVector a4 = FloatVector.broadcast(F, ap[aq + 4]);
            cl4 = a4.fma(b0, cl4); cr4 = a4.fma(b1, cr4);
            FloatVector a5 = FloatVector.broadcast(F, ap[aq + 5]);
            cl5 = a5.fma(b0, cl5); cr5 = a5.fma(b1, cr5);
            FloatVector a6 = FloatVector.broadcast(F, ap[aq + 6]);
            cl6 = a6.fma(b0, cl6); cr6 = a6.fma(b1, cr6);
            FloatVector a7 = FloatVector.broadcast(F, ap[aq + 7]);
            cl7 = a7.fma(b0, cl7); cr7 = a7.fma(b1, cr7);
            FloatVector a8 = FloatVector.broadcast(F, ap[aq + 8]);
            cl8 = a8.fma(b0, cl8); cr8 = a8.fma(b1, cr8);
            FloatVector a9 = FloatVector.broadcast(F, ap[aq + 9]);
            cl9 = a9.fma(b0, cl9); cr9 = a9.fma(b1, cr9);
            FloatVector a10 = FloatVector.broadcast(F, ap[aq + 10]);
            cl10 = a10.fma(b0, cl10); cr10 = a10.fma(b1, cr10);
            FloatVector a11 = FloatVector.broadcast(F, ap[aq + 11]);
            cl11 = a11.fma(b0, cl11); cr11 = a11.fma(b1, cr11);
        }
        int o1 = ci + ldc, o2 = o1 + ldc, o3 = o2 + ldc, o4 = o3 + ldc, o5 = o4 + ldc, o6 = o5 + ldc;
        int o7 = o6 + ldc, o8 = o7 + ldc, o9 = o8 + ldc, o10 = o9 + ldc, o11 = o10 + ldc;
        if (!overwrite) {
            cl0 = cl0.add(FloatVector.fromArray(F, c, ci)); cr0 = cr0.add(FloatVector.fromArray(F, c, ci + L));
            cl1 = cl1.add(FloatVector.fromArray(F, c, o1)); cr1 = cr1.add(FloatVector.fromArray(F, c, o1 + L));
            cl2 = cl2.add(FloatVector.fromArray(F, c, o2)); cr2 = cr2.add(FloatVector.fromArray(F, c, o2 + L));
            cl3 = cl3.add(FloatVector.fromArray(F, c, o3)); cr3 = cr3.add(FloatVector.fromArray(F, c, o3 + L));
            cl4 = cl4.add(FloatVector.fromArray(F, c, o4)); cr4 = cr4.add(FloatVector.fromArray(F, c, o4 + L));
            cl5 = cl5.add(FloatVector.fromArray(F, c, o5)); cr5 = cr5.add(FloatVector.fromArray(F, c, o5 + L));
            cl6 = cl6.add(FloatVector.fromArray(F, c, o6)); cr6 = cr6.add(FloatVector.fromArray(F, c, o6 + L));
            cl7 = cl7.add(FloatVector.fromArray(F, c, o7)); cr7 = cr7.add(FloatVector.fromArray(F, c, o7 + L));
            cl8 = cl8.add(FloatVector.fromArray(F, c, o8)); cr8 = cr8.add(FloatVector.fromArray(F, c, o8 + L));
            cl9 = cl9.add(FloatVector.fromArray(F, c, o9)); cr9 = cr9.add(FloatVector.fromArray(F, c, o9 + L));
            cl10 = cl10.add(FloatVector.fromArray(F, c, o10)); cr10 = cr10.add(FloatVector.fromArray(F, c, o10 + L));
            cl11 = cl11.add(FloatVector.fromArray(F, c, o11)); cr11 = cr11.add(FloatVector.fromArray(F, c, o11 + L));
        }
        cl0.intoArray(c, ci); cr0.intoArray(c, ci + L);
        cl1.intoArray(c, o1); cr1.intoArray(c, o1 + L);
        cl2.intoArray(c, o2); cr2.intoArray(c, o2 + L);
        cl3.intoArray(c, o3); cr3.intoArray(c, o3 + L);
        cl4.intoArray(c, o4); cr4.intoArray(c, o4 + L);
        cl5.intoArray(c, o5); cr5.intoArray(c, o5 + L);
        cl6.intoArray(c, o6); cr6.intoArray(c, o6 + L);
        cl7.intoArray(c, o7); cr7.intoArray(c, o7 + L);
        cl8.intoArray(c, o8); cr8.intoArray(c, o8 + L);
        cl9.intoArray(c, o9); cr9.intoArray(c, o9 + L);
        cl10.intoArray(c, o10); cr10.intoArray(c, o10 + L);
        cl11.intoArray(c, o11); cr11.intoArray(c, o11 + L);
    }
}
