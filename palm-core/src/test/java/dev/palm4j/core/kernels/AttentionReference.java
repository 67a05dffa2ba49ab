package dev.palm4j.core.kernels;

/**
 * Scalar twin of {@link Attention}: double precision, one full score row per query, no tiling.
 * Same layouts and the same arguments (without offsets) as the kernel.
 */
final class AttentionReference {
    private AttentionReference() {}

    /** out (B,Tq,Hq,D) and lse (B,Hq,Tq). */
    record Forward(double[] out, double[] lse) {}

    /** dq (B,Tq,Hq,D), dk and dv (B,kvCap,Hkv,D) with rows [Tk, kvCap) zero. */
    record Backward(double[] dq, double[] dk, double[] dv) {}

    static int qi(int b, int t, int h, int Tq, int Hq, int D) {
        return ((b * Tq + t) * Hq + h) * D;
    }

    static int ki(int b, int j, int g, int kvCap, int Hkv, int D) {
        return ((b * kvCap + j) * Hkv + g) * D;
    }

    // Softmax probabilities of query (b,t,h) over its visible keys 0..n-1; also returns lse in p[n].
    static double[] probs(float[] q, float[] k, int b, int t, int h, int Tq, int Tk, int kvCap, int qPos0,
                          int Hq, int Hkv, int D, double scale) {
        int g = h / (Hq / Hkv), n = Math.min(qPos0 + t + 1, Tk);
        double[] p = new double[n + 1];
        double max = Double.NEGATIVE_INFINITY;
        for (int j = 0; j < n; j++) {
            double s = 0;
            for (int d = 0; d < D; d++)
                s += (double) q[qi(b, t, h, Tq, Hq, D) + d] * k[ki(b, j, g, kvCap, Hkv, D) + d];
            p[j] = s * scale;
            max = Math.max(max, p[j]);
        }
        double sum = 0;
        for (int j = 0; j < n; j++) sum += p[j] = Math.exp(p[j] - max);
        for (int j = 0; j < n; j++) p[j] /= sum;
        p[n] = max + Math.log(sum);
        return p;
    }

    static Forward forward(float[] q, float[] k, float[] v, int B, int Tq, int Tk, int kvCap, int qPos0,
                           int Hq, int Hkv, int D, double scale) {
        double[] out = new double[B * Tq * Hq * D], lse = new double[B * Hq * Tq];
        for (int b = 0; b < B; b++)
            for (int t = 0; t < Tq; t++)
                for (int h = 0; h < Hq; h++) {
                    double[] p = probs(q, k, b, t, h, Tq, Tk, kvCap, qPos0, Hq, Hkv, D, scale);
                    int n = p.length - 1, g = h / (Hq / Hkv);
                    for (int j = 0; j < n; j++)
                        for (int d = 0; d < D; d++)
                            out[qi(b, t, h, Tq, Hq, D) + d] += p[j] * v[ki(b, j, g, kvCap, Hkv, D) + d];
                    lse[(b * Hq + h) * Tq + t] = p[n];
                }
        return new Forward(out, lse);
    }

    static Backward backward(float[] dout, float[] q, float[] k, float[] v, int B, int Tq, int Tk, int kvCap,
                             int qPos0, int Hq, int Hkv, int D, double scale) {
        double[] dq = new double[B * Tq * Hq * D], dk = new double[B * kvCap * Hkv * D], dv = new double[dk.length];
        for (int b = 0; b < B; b++)
            for (int t = 0; t < Tq; t++)
                for (int h = 0; h < Hq; h++) {
                    double[] p = probs(q, k, b, t, h, Tq, Tk, kvCap, qPos0, Hq, Hkv, D, scale);
                    int n = p.length - 1, g = h / (Hq / Hkv), oq = qi(b, t, h, Tq, Hq, D);
                    double[] dp = new double[n];
                    double pdp = 0;
                    for (int j = 0; j < n; j++) {
                        int okv = ki(b, j, g, kvCap, Hkv, D);
                        for (int d = 0; d < D; d++) {
                            dp[j] += (double) dout[oq + d] * v[okv + d];
                            dv[okv + d] += p[j] * dout[oq + d];
                        }
                        pdp += p[j] * dp[j];
                    }
                    for (int j = 0; j < n; j++) {
                        double ds = p[j] * (dp[j] - pdp) * scale;
                        int okv = ki(b, j, g, kvCap, Hkv, D);
                        for (int d = 0; d < D; d++) {
                            dq[oq + d] += ds * k[okv + d];
                            dk[okv + d] += ds * q[oq + d];
                        }
                    }
                }
        return new Backward(dq, dk, dv);
    }
}
