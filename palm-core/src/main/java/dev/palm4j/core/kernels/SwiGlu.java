package dev.palm4j.core.kernels;

import java.util.Objects;
import jdk.incubator.vector.FloatVector;

/**
 * The SwiGLU gate of PaLM's feed-forward block: {@code h = silu(gate) * up}, silu(x) = x sigmoid(x).
 *
 * <p>Row n of gate starts at {@code gateOff + n * inStride} and row n of up at
 * {@code upOff + n * inStride}, so the two can be separate (N,F) buffers ({@code inStride = F})
 * or the two halves of one fused (N,2F) projection ({@code upOff = gateOff + F},
 * {@code inStride = 2F}), in one array or two. h is a contiguous (N,F) buffer.
 * sigmoid uses {@link Exp}, so results do not change when the JIT compiles the loop.
 */
public final class SwiGlu {
    private SwiGlu() {}

    // gate (N,F) @ inStride, up (N,F) @ inStride -> h (N,F)
    // h may be the same region as gate or up when that one is contiguous (inStride == F).
    public static void forward(Parallel par, float[] h, int hOff, float[] gate, int gateOff, float[] up, int upOff,
            int inStride, int N, int F) {
        check(h, hOff, F, N, F);
        check(gate, gateOff, inStride, N, F);
        check(up, upOff, inStride, N, F);
        par.forRange(N, grain(F), (lo, hi) -> {
            for (int n = lo; n < hi; n++) {
                int o = hOff + n * F, g = gateOff + n * inStride, u = upOff + n * inStride;
                int f = 0;
                for (int bound = Simd.F.loopBound(F); f < bound; f += Simd.LANES) {
                    FloatVector x = FloatVector.fromArray(Simd.F, gate, g + f);
                    silu(x).mul(FloatVector.fromArray(Simd.F, up, u + f)).intoArray(h, o + f);
                }
                for (; f < F; f++) h[o + f] = silu(gate[g + f]) * up[u + f];
            }
        });
    }

    // dh (N,F), gate (N,F) @ inStride, up (N,F) @ inStride -> dgate (N,F) @ inStride, dup (N,F) @ inStride (both =)
    // dgate = dh * up * silu'(gate), dup = dh * silu(gate). The gradients overwrite and use the same
    // layout as the inputs, so dgate/dup may be gate/up themselves (in place) or one fused (N,2F)
    // gradient buffer; dh may be dgate's or dup's region when inStride == F.
    public static void backward(Parallel par, float[] dgate, int dgateOff, float[] dup, int dupOff,
            float[] dh, int dhOff, float[] gate, int gateOff, float[] up, int upOff, int inStride, int N, int F) {
        check(dh, dhOff, F, N, F);
        check(gate, gateOff, inStride, N, F);
        check(up, upOff, inStride, N, F);
        check(dgate, dgateOff, inStride, N, F);
        check(dup, dupOff, inStride, N, F);
        par.forRange(N, grain(F), (lo, hi) -> {
            for (int n = lo; n < hi; n++) {
                int d = dhOff + n * F, row = n * inStride;
                int g = gateOff + row, u = upOff + row, dg = dgateOff + row, du = dupOff + row;
                int f = 0;
                for (int bound = Simd.F.loopBound(F); f < bound; f += Simd.LANES) {
                    FloatVector x = FloatVector.fromArray(Simd.F, gate, g + f);
                    FloatVector y = FloatVector.fromArray(Simd.F, up, u + f);
                    FloatVector dy = FloatVector.fromArray(Simd.F, dh, d + f);
                    FloatVector sig = sigmoid(x);
                    FloatVector silu = x.mul(sig);
                    // silu'(x) = sig + silu * (1 - sig)
                    FloatVector dsilu = silu.fma(sig.neg().add(1f), sig);
                    dy.mul(y).mul(dsilu).intoArray(dgate, dg + f);
                    dy.mul(silu).intoArray(dup, du + f);
                }
                for (; f < F; f++) {
                    float x = gate[g + f], y = up[u + f], dy = dh[d + f];
                    float sig = sigmoid(x), silu = x * sig;
                    float dsilu = Math.fma(silu, -sig + 1f, sig);
                    dgate[dg + f] = dy * y * dsilu;
                    dup[du + f] = dy * silu;
                }
            }
        });
    }

    /** silu(x) = x / (1 + exp(-x)), lane-wise; bit-identical to {@link #silu(float)}. */
    public static FloatVector silu(FloatVector x) {
        return x.mul(sigmoid(x));
    }

    public static float silu(float x) {
        return x * sigmoid(x);
    }

    static FloatVector sigmoid(FloatVector x) {
        return x.broadcast(1f).div(Exp.exp(x.neg()).add(1f));
    }

    static float sigmoid(float x) {
        return 1f / (1f + Exp.exp(-x));
    }

    private static void check(float[] a, int off, int stride, int N, int F) {
        if (N < 0 || F < 0) throw new IllegalArgumentException("negative shape N=" + N + " F=" + F);
        if (stride < F) throw new IllegalArgumentException("row stride " + stride + " < F=" + F);
        if (N > 0) Objects.checkFromIndexSize(off, (long) (N - 1) * stride + F, a.length);
    }

    private static int grain(int F) {
        return Math.max(1, 8192 / Math.max(1, F));
    }
}
