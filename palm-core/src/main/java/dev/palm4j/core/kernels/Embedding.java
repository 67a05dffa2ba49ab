package dev.palm4j.core.kernels;

import static dev.palm4j.core.kernels.Simd.F;
import static dev.palm4j.core.kernels.Simd.LANES;

import java.util.Objects;
import jdk.incubator.vector.FloatVector;

/**
 * Token embedding lookup and its scatter-add backward. The backward splits the channels, not the
 * tokens, across threads: each thread walks all tokens in order over its own channel range, so
 * repeated tokens never race and every table entry sums its contributions in token order, the
 * same for any thread count.
 */
public final class Embedding {
    private Embedding() {}

    // tokens (N), table (V,C) -> out (N,C) = table[tokens[n]] * scale
    public static void forward(Parallel par, float[] out, int outOff, int[] tokens, int tOff,
            float[] table, int tableOff, int N, int V, int C, float scale) {
        check(tokens, tOff, table, tableOff, N, V, C);
        Objects.checkFromIndexSize(outOff, (long) N * C, out.length);
        par.forRange(N, Math.max(1, 8192 / Math.max(1, C)), (lo, hi) -> {
            for (int n = lo; n < hi; n++) {
                int o = outOff + n * C, e = tableOff + tokens[tOff + n] * C;
                if (scale == 1f) {
                    System.arraycopy(table, e, out, o, C);
                    continue;
                }
                int c = 0;
                for (int bound = F.loopBound(C); c < bound; c += LANES)
                    FloatVector.fromArray(F, table, e + c).mul(scale).intoArray(out, o + c);
                for (; c < C; c++) out[o + c] = table[e + c] * scale;
            }
        });
    }

    // dout (N,C), tokens (N) -> dtable (V,C) += scale * dout[n] at row tokens[n], in token order
    public static void backward(Parallel par, float[] dtable, int dtableOff, float[] dout, int doutOff,
            int[] tokens, int tOff, int N, int V, int C, float scale) {
        check(tokens, tOff, dtable, dtableOff, N, V, C);
        Objects.checkFromIndexSize(doutOff, (long) N * C, dout.length);
        // Channel ranges of at least 64 floats keep each row segment a few cache lines long.
        par.forRange(C, 64, (lo, hi) -> {
            int bound = lo + F.loopBound(hi - lo);
            FloatVector vs = FloatVector.broadcast(F, scale);
            for (int n = 0; n < N; n++) {
                int g = doutOff + n * C, e = dtableOff + tokens[tOff + n] * C;
                int c = lo;
                if (scale == 1f) {
                    for (; c < bound; c += LANES) {
                        FloatVector v = FloatVector.fromArray(F, dtable, e + c).add(FloatVector.fromArray(F, dout, g + c));
                        v.intoArray(dtable, e + c);
                    }
                    for (; c < hi; c++) dtable[e + c] += dout[g + c];
                } else {
                    for (; c < bound; c += LANES) {
                        FloatVector v = FloatVector.fromArray(F, dout, g + c).fma(vs, FloatVector.fromArray(F, dtable, e + c));
                        v.intoArray(dtable, e + c);
                    }
                    for (; c < hi; c++) dtable[e + c] = Math.fma(dout[g + c], scale, dtable[e + c]);
                }
            }
        });
    }

    // Validates every id up front so a bad one fails before anything is written.
    private static void check(int[] tokens, int tOff, float[] table, int tableOff, int N, int V, int C) {
        if (N < 0 || V < 1 || C < 0) throw new IllegalArgumentException("bad shape N=" + N + " V=" + V + " C=" + C);
        Objects.checkFromIndexSize(tOff, N, tokens.length);
        Objects.checkFromIndexSize(tableOff, (long) V * C, table.length);
        for (int n = 0; n < N; n++) {
            int id = tokens[tOff + n];
            if (id < 0 || id >= V) throw new IllegalArgumentException(
                    "token id " + id + " at position " + n + " is outside the vocabulary of size " + V);
        }
    }
}
