package dev.palm4j.core.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import jdk.incubator.vector.FloatVector;
import org.junit.jupiter.api.Test;

class ExpTest {

    static int ulps(float a, float b) {
        return Math.abs(Float.floatToIntBits(a) - Float.floatToIntBits(b));
    }

    /** x from -110 to 92, geometric steps from zero, uniform random ones, and the edges of the range. */
    static float[] samples() {
        float[] xs = new float[60_000];
        int n = 0;
        for (float x = -110f; x < 92f; x = Math.nextUp(x + 1.3e-3f * Math.abs(x) + 1e-6f)) xs[n++] = x;
        java.util.Random rng = new java.util.Random(1);
        while (n < xs.length - 8) xs[n++] = -105f + 195f * rng.nextFloat();
        float[] edges = {0f, -0f, 88.72f, 88.7228f, 88.73f, -87.33f, -103.97f, -104f};
        for (float e : edges) xs[n++] = e;
        return java.util.Arrays.copyOf(xs, n);
    }

    @Test
    void withinTwoUlpOfMathExp() {
        int worst = 0;
        float at = 0;
        for (float x : samples()) {
            float want = (float) Math.exp(x), got = Exp.exp(x);
            if (ulps(want, got) > worst) {
                worst = ulps(want, got);
                at = x;
            }
        }
        assertTrue(worst <= 2, "worst error " + worst + " ulp at x=" + at);
    }

    // ~8k vector calls, so the loop runs interpreted first and JIT-compiled later: every lane must
    // equal the scalar twin whichever tier ran it (lanewise(EXP) would not: its bits change under C2).
    @Test
    void vectorLanesEqualScalarBitwise() {
        float[] xs = samples();
        int n = Simd.F.loopBound(xs.length);
        float[] ys = new float[n];
        for (int i = 0; i < n; i += Simd.LANES) Exp.exp(FloatVector.fromArray(Simd.F, xs, i)).intoArray(ys, i);
        for (int i = 0; i < n; i++)
            assertEquals(Float.floatToIntBits(Exp.exp(xs[i])), Float.floatToIntBits(ys[i]), "x=" + xs[i]);
    }

    @Test
    void specialValues() {
        assertEquals(1f, Exp.exp(0f));
        assertEquals(Float.POSITIVE_INFINITY, Exp.exp(89f));
        assertEquals(Float.POSITIVE_INFINITY, Exp.exp(Float.POSITIVE_INFINITY));
        assertEquals(0f, Exp.exp(-200f));
        assertEquals(0f, Exp.exp(Float.NEGATIVE_INFINITY));
        assertTrue(Float.isNaN(Exp.exp(Float.NaN)));
        assertEquals((float) Math.exp(-100.0), Exp.exp(-100f)); // subnormal result, gradual underflow
        float[] nan = new float[Simd.LANES];
        java.util.Arrays.fill(nan, Float.NaN);
        assertTrue(Float.isNaN(Exp.exp(FloatVector.fromArray(Simd.F, nan, 0)).lane(0)));
    }
}
