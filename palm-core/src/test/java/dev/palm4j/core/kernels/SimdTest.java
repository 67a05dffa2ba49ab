package dev.palm4j.core.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class SimdTest {
    @Test
    void widthFollowsThePropertyOrTheCpu() {
        String prop = System.getProperty(Simd.WIDTH_PROPERTY);
        int expected = prop == null ? Simd.preferredBits() : Integer.parseInt(prop);
        assertEquals(expected, Simd.bits());
        assertEquals(Simd.bits() / 32, Simd.LANES);
    }

    @Test
    void everyWidthCanBeNamedAndNothingElse() {
        for (int bits : new int[] {64, 128, 256, 512})
            assertEquals(bits, Simd.pick(Integer.toString(bits)).vectorBitSize());
        dev.palm4j.core.InputException e = assertThrows(dev.palm4j.core.InputException.class, () -> Simd.pick("300"));
        assertTrue(e.getMessage().contains("use 64, 128, 256 or 512"), e.getMessage());
    }

    @Test
    void sumAddsLanesInAFixedButterflyOrder() {
        java.util.Random rng = new java.util.Random(3);
        float[] x = new float[Simd.LANES];
        for (int rep = 0; rep < 1000; rep++) {
            for (int i = 0; i < x.length; i++) x[i] = (float) (rng.nextGaussian() * Math.exp(4 * rng.nextGaussian()));
            // The same tree written out in scalars: level by level, lane i plus lane i ^ step.
            float[] v = x.clone();
            for (int step = Simd.LANES / 2; step >= 1; step /= 2) {
                float[] next = new float[v.length];
                for (int i = 0; i < v.length; i++) next[i] = v[i] + v[i ^ step];
                v = next;
            }
            assertEquals(Float.floatToIntBits(v[0]),
                    Float.floatToIntBits(Simd.sum(jdk.incubator.vector.FloatVector.fromArray(Simd.F, x, 0))));
        }
    }
}
