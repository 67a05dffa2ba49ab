package dev.palm4j.core.model;

import java.util.SplittableRandom;

/**
 * PaLM's initialisation: dense kernels N(0, 1/fan_in), the shared embedding N(0, 1), norm scales 1.
 *
 * <p>Each full tensor is drawn from its own stream, seeded by the run seed and the tensor's name,
 * and a device keeps only its slice: every mesh starts from the very same weights.
 */
final class Init {
    private Init() {}

    static void initialize(ParamLayout layout, float[] params, long seed) {
        for (ParamLayout.Tensor t : layout.tensors()) {
            if (t.vector()) {
                java.util.Arrays.fill(params, t.offset(), t.offset() + t.size(), 1f);
                continue;
            }
            // nn.Linear layout [out, in]: fan_in is the number of columns. Embedding: std 1.
            double std = t.name().equals("embed.weight") ? 1.0 : 1.0 / Math.sqrt(t.fullCols());
            SplittableRandom rng = new SplittableRandom(seed * 0x9E3779B97F4A7C15L ^ t.name().hashCode());
            for (int r = 0; r < t.fullRows(); r++) {
                boolean rowHere = r >= t.rowStart() && r < t.rowStart() + t.rows();
                for (int c = 0; c < t.fullCols(); c++) {
                    float v = (float) (rng.nextGaussian() * std);
                    if (rowHere && c >= t.colStart() && c < t.colStart() + t.cols())
                        params[t.offset() + (r - t.rowStart()) * t.cols() + (c - t.colStart())] = v;
                }
            }
        }
    }
}
