package dev.palm4j.train.optim;

import dev.palm4j.core.model.ParamLayout.Tensor;
import java.util.List;

/** Adafactor (PaLM variant) written straight from the formulas in {@link Adafactor}, in double. */
final class AdafactorReference {
    final List<Tensor> tensors;
    final Adafactor.Settings s;
    final double[] m, v;
    int clipped, unclipped, floored; // how often update clipping and the eps2 floor engaged

    AdafactorReference(List<Tensor> tensors, Adafactor.Settings s) {
        this.tensors = tensors;
        this.s = s;
        int n = OptimTesting.size(tensors);
        m = new double[n];
        v = new double[n];
    }

    void step(double[] p, float[] g, long k, double lr) {
        double beta2 = 1 - Math.pow(k, -s.decayRate());
        for (Tensor t : tensors) {
            int a = t.offset(), n = t.size();
            double[] u = new double[n];
            double uu = 0, pp = 0;
            for (int i = 0; i < n; i++) {
                v[a + i] = beta2 * v[a + i] + (1 - beta2) * ((double) g[a + i] * g[a + i] + s.eps1());
                u[i] = g[a + i] / Math.sqrt(v[a + i]);
                uu += u[i] * u[i];
                pp += p[a + i] * p[a + i];
            }
            double clip = Math.max(1, Math.sqrt(uu / n) / s.clipThreshold());
            double alpha = lr * Math.max(s.eps2(), Math.sqrt(pp / n));
            if (clip > 1) clipped++;
            else unclipped++;
            if (Math.sqrt(pp / n) < s.eps2()) floored++;
            for (int i = 0; i < n; i++) {
                m[a + i] = s.beta1() * m[a + i] + (1 - s.beta1()) * alpha * u[i] / clip;
                double keep = t.decay() ? 1 - s.weightDecay() * lr * lr : 1;
                p[a + i] = keep * p[a + i] - m[a + i];
            }
        }
    }
}
