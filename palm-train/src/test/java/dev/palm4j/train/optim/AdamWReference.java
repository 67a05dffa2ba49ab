package dev.palm4j.train.optim;

import dev.palm4j.core.model.ParamLayout.Tensor;
import java.util.List;

/** AdamW written straight from the formulas, in double: the scalar twin of {@link AdamW}. */
final class AdamWReference {
    final List<Tensor> tensors;
    final double b1, b2, eps, wd;
    final double[] m, v;

    AdamWReference(List<Tensor> tensors, AdamW.Settings s) {
        this.tensors = tensors;
        b1 = s.beta1();
        b2 = s.beta2();
        eps = s.eps();
        wd = s.weightDecay();
        int n = OptimTesting.size(tensors);
        m = new double[n];
        v = new double[n];
    }

    void step(double[] p, float[] g, long k, double lr) {
        for (Tensor t : tensors) {
            for (int i = t.offset(); i < t.offset() + t.size(); i++) {
                if (t.decay()) p[i] *= 1 - lr * wd;
                m[i] = b1 * m[i] + (1 - b1) * g[i];
                v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
                double mHat = m[i] / (1 - Math.pow(b1, k)), vHat = v[i] / (1 - Math.pow(b2, k));
                p[i] -= lr * mHat / (Math.sqrt(vHat) + eps);
            }
        }
    }
}
