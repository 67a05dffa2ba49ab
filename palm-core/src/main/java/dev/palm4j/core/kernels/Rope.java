package dev.palm4j.core.kernels;

import static dev.palm4j.core.kernels.Simd.F;
import static dev.palm4j.core.kernels.Simd.LANES;

import java.util.Objects;
import jdk.incubator.vector.FloatVector;

/**
 * Rotary position embedding, rotate-half pairing: within each head of size D, element i is
 * rotated with element i + D/2 by the angle p * base^(-2i/D), p the token's position:
 * <pre>
 *   out[i]       = x[i] cos - x[i+D/2] sin
 *   out[i+D/2]   = x[i+D/2] cos + x[i] sin      (i < D/2)
 * </pre>
 * The backward is the rotation by minus the angle (the transpose). Buffers are (B,T,H,D): row
 * (b,t) starts at {@code off + (b*T + t) * rowStride} and holds H heads of D contiguous floats,
 * so q or k can sit inside a fused projection row. Row t has position {@code p0 + t} for every b.
 */
public final class Rope {
    private Rope() {}

    /** PaLM's base. */
    public static final double DEFAULT_BASE = 10000.0;

    /**
     * cos and sin of p * base^(-2i/D) for p in [0, maxT) and i in [0, D/2), each (maxT, D/2),
     * computed once in double (StrictMath: the same bits on every JVM) and rounded to float.
     */
    public record Table(int maxT, int headDim, double base, float[] cos, float[] sin) {
        public Table {
            validate(maxT, headDim, base);
            int n = maxT * (headDim / 2);
            if (cos.length != n || sin.length != n)
                throw new IllegalArgumentException("RoPE tables must hold maxT * head_dim/2 = " + n + " values");
        }

        public static Table of(int maxT, int headDim, double base) {
            validate(maxT, headDim, base);
            int half = headDim / 2;
            float[] cos = new float[maxT * half], sin = new float[maxT * half];
            for (int i = 0; i < half; i++) {
                double invFreq = StrictMath.pow(base, -2.0 * i / headDim);
                for (int p = 0; p < maxT; p++) {
                    double a = p * invFreq;
                    cos[p * half + i] = (float) StrictMath.cos(a);
                    sin[p * half + i] = (float) StrictMath.sin(a);
                }
            }
            return new Table(maxT, headDim, base, cos, sin);
        }

        private static void validate(int maxT, int headDim, double base) {
            if (maxT < 1) throw new IllegalArgumentException("RoPE maxT must be >= 1, got " + maxT);
            if (headDim < 2 || headDim % 2 != 0)
                throw new IllegalArgumentException("RoPE head_dim must be even and >= 2, got " + headDim);
            if (!(base > 1.0)) throw new IllegalArgumentException("RoPE base must be > 1, got " + base);
        }
    }

    // x (B,T,H,D) @ rowStride -> x rotated in place, positions p0 .. p0+T-1
    public static void forward(Parallel par, float[] x, int off, int rowStride, int B, int T, int H, int D,
            int p0, Table table) {
        apply(par, false, x, off, rowStride, x, off, rowStride, B, T, H, D, p0, table);
    }

    // dx (B,T,H,D) @ rowStride -> dx rotated back in place (the gradient w.r.t. the unrotated input)
    public static void backward(Parallel par, float[] dx, int off, int rowStride, int B, int T, int H, int D,
            int p0, Table table) {
        apply(par, true, dx, off, rowStride, dx, off, rowStride, B, T, H, D, p0, table);
    }

    // in (B,T,H,D) @ inStride -> out (B,T,H,D) @ outStride; out may be in itself (same off and stride)
    public static void forward(Parallel par, float[] out, int outOff, int outStride, float[] in, int inOff,
            int inStride, int B, int T, int H, int D, int p0, Table table) {
        apply(par, false, out, outOff, outStride, in, inOff, inStride, B, T, H, D, p0, table);
    }

    // dout (B,T,H,D) @ outStride -> din (B,T,H,D) @ inStride (=); din may be dout itself
    public static void backward(Parallel par, float[] din, int dinOff, int dinStride, float[] dout, int doutOff,
            int doutStride, int B, int T, int H, int D, int p0, Table table) {
        apply(par, true, din, dinOff, dinStride, dout, doutOff, doutStride, B, T, H, D, p0, table);
    }

    private static void apply(Parallel par, boolean inverse, float[] out, int outOff, int outStride,
            float[] in, int inOff, int inStride, int B, int T, int H, int D, int p0, Table table) {
        if (B < 0 || T < 0 || H < 0) throw new IllegalArgumentException("negative shape B=" + B + " T=" + T + " H=" + H);
        if (D != table.headDim()) throw new IllegalArgumentException("head_dim " + D + " != RoPE table's " + table.headDim());
        if (p0 < 0 || (long) p0 + T > table.maxT())
            throw new IllegalArgumentException("positions " + p0 + ".." + ((long) p0 + T - 1)
                    + " outside the RoPE table's 0.." + (table.maxT() - 1));
        int rows = B * T, width = H * D;
        if (inStride < width || outStride < width)
            throw new IllegalArgumentException("row stride " + Math.min(inStride, outStride) + " < H*D=" + width);
        if (rows == 0 || width == 0) return;
        Objects.checkFromIndexSize(inOff, (long) (rows - 1) * inStride + width, in.length);
        Objects.checkFromIndexSize(outOff, (long) (rows - 1) * outStride + width, out.length);
        int half = D / 2;
        float[] cos = table.cos(), sin = table.sin();
        par.forRange(rows, Math.max(1, 8192 / width), (lo, hi) -> {
            for (int r = lo; r < hi; r++) {
                int t = p0 + r % T, cs = t * half;
                for (int h = 0; h < H; h++)
                    rotate(inverse, out, outOff + r * outStride + h * D, in, inOff + r * inStride + h * D, cos, sin, cs, half);
            }
        });
    }

    private static void rotate(boolean inverse, float[] out, int o, float[] in, int x, float[] cos, float[] sin,
            int cs, int half) {
        int i = 0;
        for (int bound = F.loopBound(half); i < bound; i += LANES) {
            FloatVector x1 = FloatVector.fromArray(F, in, x + i), x2 = FloatVector.fromArray(F, in, x + half + i);
            FloatVector c = FloatVector.fromArray(F, cos, cs + i), s = FloatVector.fromArray(F, sin, cs + i);
            if (inverse) s = s.neg();
            x1.mul(c).sub(x2.mul(s)).intoArray(out, o + i);
            x2.mul(c).add(x1.mul(s)).intoArray(out, o + half + i);
        }
        for (; i < half; i++) {
            float x1 = in[x + i], x2 = in[x + half + i], c = cos[cs + i], s = inverse ? -sin[cs + i] : sin[cs + i];
            out[o + i] = x1 * c - x2 * s;
            out[o + half + i] = x2 * c + x1 * s;
        }
    }
}
