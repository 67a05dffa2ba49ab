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
}
