package dev.palm4j.core.kernels;

/**
 * Plain scalar twins of the kernels in this package: obviously correct loops, in double where
 * precision matters, contiguous buffers, no threads. Tests compare the SIMD kernels against them.
 */
final class ScalarOps {
    private ScalarOps() {}

    // ---- Norm ----

    /** Per-row statistics and output of LayerNorm ({@code centred}) or RMSNorm. */
    record NormOut(double[] out, double[] mean, double[] rstd) {}

    // inp (N,C), w (C) -> out (N,C), mean (N), rstd (N)
    static NormOut norm(boolean centred, float[] inp, float[] w, int N, int C, double eps) {
        double[] out = new double[N * C], mean = new double[N], rstd = new double[N];
        for (int n = 0; n < N; n++) {
            double m = 0;
            if (centred) {
                for (int c = 0; c < C; c++) m += inp[n * C + c];
                m /= C;
            }
            double v = 0;
            for (int c = 0; c < C; c++) {
                double d = inp[n * C + c] - m;
                v += d * d;
            }
            double s = 1 / Math.sqrt(v / C + eps);
            for (int c = 0; c < C; c++) out[n * C + c] = (inp[n * C + c] - m) * s * w[c];
            mean[n] = m;
            rstd[n] = s;
        }
        return new NormOut(out, mean, rstd);
    }

    // dout (N,C), inp (N,C), w (C) -> dinp (N,C), dw (C); statistics recomputed in double
    static double[][] normBackward(boolean centred, float[] dout, float[] inp, float[] w, int N, int C, double eps) {
        NormOut f = norm(centred, inp, w, N, C, eps);
        double[] dinp = new double[N * C], dw = new double[C];
        for (int n = 0; n < N; n++) {
            double m = f.mean[n], s = f.rstd[n], sumG = 0, sumGX = 0;
            for (int c = 0; c < C; c++) {
                double xh = (inp[n * C + c] - m) * s, g = (double) dout[n * C + c] * w[c];
                sumG += g;
                sumGX += g * xh;
                dw[c] += dout[n * C + c] * xh;
            }
            double a = centred ? sumG / C : 0, b = sumGX / C;
            for (int c = 0; c < C; c++) {
                double xh = (inp[n * C + c] - m) * s, g = (double) dout[n * C + c] * w[c];
                dinp[n * C + c] = (g - a - xh * b) * s;
            }
        }
        return new double[][] {dinp, dw};
    }

    // ---- SwiGLU ----

    static double sigmoid(double x) {
        return 1 / (1 + Math.exp(-x));
    }

    // gate (N,F), up (N,F) contiguous -> h (N,F)
    static double[] swiglu(float[] gate, float[] up, int N, int F) {
        double[] h = new double[N * F];
        for (int i = 0; i < N * F; i++) h[i] = gate[i] * sigmoid(gate[i]) * up[i];
        return h;
    }

    // dh, gate, up (N,F) -> {dgate, dup}
    static double[][] swigluBackward(float[] dh, float[] gate, float[] up, int N, int F) {
        double[] dg = new double[N * F], du = new double[N * F];
        for (int i = 0; i < N * F; i++) {
            double x = gate[i], s = sigmoid(x);
            dg[i] = dh[i] * up[i] * (s + x * s * (1 - s));
            du[i] = dh[i] * x * s;
        }
        return new double[][] {dg, du};
    }

    // ---- RoPE ----

    // x (B,T,H,D) contiguous -> rotated copy; angles computed directly in double, sign -1 = inverse
    static double[] rope(float[] x, int B, int T, int H, int D, int p0, double base, int sign) {
        double[] out = new double[x.length];
        int half = D / 2;
        for (int b = 0; b < B; b++)
            for (int t = 0; t < T; t++)
                for (int h = 0; h < H; h++) {
                    int o = ((b * T + t) * H + h) * D;
                    for (int i = 0; i < half; i++) {
                        double a = (p0 + t) * Math.pow(base, -2.0 * i / D);
                        double c = Math.cos(a), s = sign * Math.sin(a), x1 = x[o + i], x2 = x[o + half + i];
                        out[o + i] = x1 * c - x2 * s;
                        out[o + half + i] = x2 * c + x1 * s;
                    }
                }
        return out;
    }

    // ---- Cross-entropy ----

    /** Per-row loss and ce and the gradient, in double. */
    record CeOut(double[] loss, double[] ce, double[] dlogits, int counted) {}

    static CeOut crossEntropy(float[] logits, int[] targets, int N, int V, double z, double scale) {
        double[] loss = new double[N], ce = new double[N], d = new double[N * V];
        int counted = 0;
        for (int n = 0; n < N; n++) {
            int t = targets[n];
            if (t < 0) continue;
            counted++;
            double max = Double.NEGATIVE_INFINITY, sum = 0;
            for (int i = 0; i < V; i++) max = Math.max(max, logits[n * V + i]);
            for (int i = 0; i < V; i++) sum += Math.exp(logits[n * V + i] - max);
            double lse = max + Math.log(sum);
            ce[n] = lse - logits[n * V + t];
            loss[n] = ce[n] + z * lse * lse;
            for (int i = 0; i < V; i++) {
                double p = Math.exp(logits[n * V + i] - lse);
                d[n * V + i] = (p * (1 + 2 * z * lse) - (i == t ? 1 : 0)) * scale;
            }
        }
        return new CeOut(loss, ce, d, counted);
    }

    // ---- Embedding ----

    static float[] embedding(int[] tokens, float[] table, int N, int C, float scale) {
        float[] out = new float[N * C];
        for (int n = 0; n < N; n++)
            for (int c = 0; c < C; c++) out[n * C + c] = table[tokens[n] * C + c] * scale;
        return out;
    }

    /** Scatter-add in float, token order: the exact order the kernel promises. */
    static void embeddingBackward(float[] dtable, float[] dout, int[] tokens, int N, int C, float scale) {
        for (int n = 0; n < N; n++)
            for (int c = 0; c < C; c++) {
                int e = tokens[n] * C + c;
                dtable[e] = scale == 1f ? dtable[e] + dout[n * C + c] : Math.fma(dout[n * C + c], scale, dtable[e]);
            }
    }

    // ---- Elementwise ----

    static double sumOfSquares(float[] x, int off, int n) {
        double s = 0;
        for (int i = 0; i < n; i++) s += (double) x[off + i] * x[off + i];
        return s;
    }
}
