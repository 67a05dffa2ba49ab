package dev.palm4j.core.model;

/**
 * A hand-written scalar twin of {@link PalmModel}'s forward pass, in double, straight from the
 * definitions in DESIGN.md (and the PyTorch anchor): no tiling, no fusion, a full T x T score
 * matrix. Reads parameters through the same {@link ParamLayout} names.
 */
final class PalmReference {
    private PalmReference() {}

    /** Mean loss (CE + z-loss) and fills {@code logitsOut} (B*T, V) when not null. */
    static double[] loss(PalmConfig c, ParamLayout p, float[] w, int[] inputs, int[] targets, int B, int T,
                         double[] logitsOut) {
        int d = c.dModel(), V = c.vocab(), H = c.nHeads(), KV = c.nKvHeads(), hd = c.headDim(), F = c.ffnHidden();
        int N = B * T;
        double[][] x = new double[N][d];
        int emb = p.embed;
        for (int n = 0; n < N; n++) for (int i = 0; i < d; i++) x[n][i] = w[emb + inputs[n] * d + i];
        for (int l = 0; l < c.nLayers(); l++) {
            String pre = "layers." + l + ".";
            double[][] xn = new double[N][];
            for (int n = 0; n < N; n++) xn[n] = norm(c, x[n], w, p.tensor(pre + "norm.weight").offset());
            double[][] q = linear(xn, w, p.tensor(pre + "attn.wq")), k = linear(xn, w, p.tensor(pre + "attn.wk")),
                    v = linear(xn, w, p.tensor(pre + "attn.wv")), gate = linear(xn, w, p.tensor(pre + "ffn.w_gate")),
                    up = linear(xn, w, p.tensor(pre + "ffn.w_up"));
            for (int n = 0; n < N; n++) {
                int pos = n % T;
                for (int h = 0; h < H; h++) rope(q[n], h * hd, hd, pos, c.ropeBase());
                for (int h = 0; h < KV; h++) rope(k[n], h * hd, hd, pos, c.ropeBase());
            }
            double[][] att = new double[N][H * hd];
            for (int b = 0; b < B; b++)
                for (int h = 0; h < H; h++) {
                    int g = h / (H / KV);
                    for (int i = 0; i < T; i++) {
                        double[] s = new double[i + 1];
                        double max = Double.NEGATIVE_INFINITY;
                        for (int j = 0; j <= i; j++) {
                            double dot = 0;
                            for (int e = 0; e < hd; e++) dot += q[b * T + i][h * hd + e] * k[b * T + j][g * hd + e];
                            s[j] = dot / Math.sqrt(hd);
                            max = Math.max(max, s[j]);
                        }
                        double z = 0;
                        for (int j = 0; j <= i; j++) z += s[j] = Math.exp(s[j] - max);
                        for (int j = 0; j <= i; j++)
                            for (int e = 0; e < hd; e++) att[b * T + i][h * hd + e] += s[j] / z * v[b * T + j][g * hd + e];
                    }
                }
            double[][] m = new double[N][F];
            for (int n = 0; n < N; n++)
                for (int f = 0; f < F; f++) m[n][f] = gate[n][f] / (1 + Math.exp(-gate[n][f])) * up[n][f];
            double[][] y1 = linear(att, w, p.tensor(pre + "attn.wo")), y2 = linear(m, w, p.tensor(pre + "ffn.w_down"));
            for (int n = 0; n < N; n++) for (int i = 0; i < d; i++) x[n][i] += y1[n][i] + y2[n][i];
        }
        double total = 0, totalCe = 0;
        int counted = 0;
        for (int n = 0; n < N; n++) {
            double[] xf = norm(c, x[n], w, p.finalNorm);
            double[] lg = new double[V];
            double max = Double.NEGATIVE_INFINITY;
            for (int t = 0; t < V; t++) {
                double dot = 0;
                for (int i = 0; i < d; i++) dot += xf[i] * w[emb + t * d + i];
                lg[t] = dot / Math.sqrt(d);
                max = Math.max(max, lg[t]);
                if (logitsOut != null) logitsOut[n * V + t] = lg[t];
            }
            if (targets == null || targets[n] < 0) continue;
            double z = 0;
            for (int t = 0; t < V; t++) z += Math.exp(lg[t] - max);
            double lse = max + Math.log(z);
            double ce = lse - lg[targets[n]];
            totalCe += ce;
            total += ce + c.zLoss() * lse * lse;
            counted++;
        }
        return new double[] {total / counted, totalCe / counted};
    }

    private static double[] norm(PalmConfig c, double[] x, float[] w, int off) {
        int d = x.length;
        double mean = 0;
        if (c.norm() == NormKind.LAYERNORM) {
            for (double v : x) mean += v;
            mean /= d;
        }
        double var = 0;
        for (double v : x) var += (v - mean) * (v - mean);
        var /= d;
        double r = 1 / Math.sqrt(var + c.normEps());
        double[] out = new double[d];
        for (int i = 0; i < d; i++) out[i] = (x[i] - mean) * r * w[off + i];
        return out;
    }

    // in (N, cols) . W^T with W [rows, cols] -> (N, rows)
    private static double[][] linear(double[][] in, float[] w, ParamLayout.Tensor t) {
        double[][] out = new double[in.length][t.rows()];
        for (int n = 0; n < in.length; n++)
            for (int r = 0; r < t.rows(); r++) {
                double s = 0;
                for (int i = 0; i < t.cols(); i++) s += in[n][i] * w[t.offset() + r * t.cols() + i];
                out[n][r] = s;
            }
        return out;
    }

    // rotate-half: element i pairs with i + hd/2, angle pos * base^(-2i/hd)
    private static void rope(double[] x, int off, int hd, int pos, double base) {
        int half = hd / 2;
        for (int i = 0; i < half; i++) {
            double a = pos * Math.pow(base, -2.0 * i / hd);
            double x1 = x[off + i], x2 = x[off + i + half];
            x[off + i] = x1 * Math.cos(a) - x2 * Math.sin(a);
            x[off + i + half] = x2 * Math.cos(a) + x1 * Math.sin(a);
        }
    }
}
