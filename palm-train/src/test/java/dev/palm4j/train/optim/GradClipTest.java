package dev.palm4j.train.optim;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.palm4j.core.kernels.Parallel;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

class GradClipTest {

    static double norm(float[] g, int off, int len) {
        double s = 0;
        for (int i = off; i < off + len; i++) s += (double) g[i] * g[i];
        return Math.sqrt(s);
    }

    @Test
    void largeGradientsScaleToTheMaxNorm() {
        for (int n : new int[] {1, 7, 33, 100, 40_009}) {
            float[] g = OptimTesting.grads(n + 5, n, 3.0);
            float[] before = g.clone();
            double want = norm(g, 2, n);
            double got = GradClip.clipGlobalNorm(Parallel.SERIAL, g, 2, n, 1.0);
            assertEquals(want, got, 1e-6 * want, "pre-clip norm, n=" + n);
            assertEquals(1.0, norm(g, 2, n), 1e-6, "post-clip norm, n=" + n);
            assertEquals(before[0], g[0]); // outside the range: untouched
            assertEquals(before[n + 4], g[n + 4]);
        }
    }

    @Test
    void smallGradientsAreLeftAlone() {
        float[] g = {0.3f, -0.4f, 0f}; // norm 0.5
        double got = GradClip.clipGlobalNorm(Parallel.SERIAL, g, 0, 3, 1.0);
        assertEquals(0.5, got, 1e-7);
        assertArrayEquals(new float[] {0.3f, -0.4f, 0f}, g);
        assertEquals(0.0, GradClip.clipGlobalNorm(Parallel.SERIAL, new float[4], 0, 4, 1.0));
    }

    @Test
    void nonFiniteGradientsGiveANonFiniteNormAndNoScaling() {
        float[] g = OptimTesting.grads(1000, 1, 10.0);
        g[517] = Float.NaN;
        float[] before = g.clone();
        assertTrue(Double.isNaN(GradClip.clipGlobalNorm(Parallel.SERIAL, g, 0, g.length, 1.0)));
        assertArrayEquals(before, g);
        g[517] = Float.POSITIVE_INFINITY;
        before = g.clone();
        assertEquals(Double.POSITIVE_INFINITY, GradClip.clipGlobalNorm(Parallel.SERIAL, g, 0, g.length, 1.0));
        assertArrayEquals(before, g);
    }

    @Test
    void sameNormAndBitsForEveryWidth() {
        float[] base = OptimTesting.grads(100_003, 9, 1.0);
        double norm = 0;
        float[] want = null;
        for (int w = 1; w <= 3; w++) {
            try (Parallel par = Parallel.of(w)) {
                float[] g = base.clone();
                double got = GradClip.clipGlobalNorm(par, g, 0, g.length, 1.0);
                if (want == null) {
                    norm = got;
                    want = g;
                } else {
                    assertEquals(Double.doubleToRawLongBits(norm), Double.doubleToRawLongBits(got), "norm at width " + w);
                    assertArrayEquals(want, g, "grads at width " + w);
                }
            }
        }
    }

    @Test
    void clipToNormUsesTheGivenNorm() {
        float[] g = {1f, 1f};
        GradClip.clipToNorm(Parallel.SERIAL, g, 0, 2, 4.0, 2.0); // a norm summed over a mesh, say
        assertArrayEquals(new float[] {0.5f, 0.5f}, g);
        assertThrows(IllegalArgumentException.class, () -> GradClip.clipToNorm(Parallel.SERIAL, g, 0, 2, 1.0, 0.0));
        assertEquals(Math.sqrt(2) / 2, GradClip.globalNorm(Parallel.SERIAL, g, 0, 2), 1e-7);
        assertArrayEquals(new float[] {0.5f, 0.5f}, Arrays.copyOf(g, 2));
    }
}
