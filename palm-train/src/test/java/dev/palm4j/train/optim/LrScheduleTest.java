package dev.palm4j.train.optim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.palm4j.core.InputException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

class LrScheduleTest {

    @Test
    void constant() {
        LrSchedule s = LrSchedule.constant(3e-4);
        assertEquals(3e-4, s.lr(1));
        assertEquals(3e-4, s.lr(1_000_000_000_000L));
    }

    @Test
    void warmupThenCosineThenFloor() {
        LrSchedule s = LrSchedule.warmupCosine(1e-3, 10, 110, 1e-4);
        assertEquals(1e-4, s.lr(1), 1e-15);      // 1/10 of the peak on the first update
        assertEquals(5e-4, s.lr(5), 1e-15);
        assertEquals(1e-3, s.lr(10), 1e-15);     // peak at the end of warmup
        assertEquals(5.5e-4, s.lr(60), 1e-15);   // halfway down the cosine: the mean of peak and floor
        assertEquals(1e-4 + 0.45e-3 * (1 + Math.cos(Math.PI / 4)), s.lr(35), 1e-15);
        assertEquals(1e-4, s.lr(110), 1e-15);
        assertEquals(1e-4, s.lr(5000));
        for (long k = 11; k < 110; k++) assertTrue(s.lr(k + 1) < s.lr(k), "decreasing at " + k);
        LrSchedule noWarmup = LrSchedule.warmupCosine(2e-3, 0, 100, 0);
        assertEquals(2e-3 * 0.5 * (1 + Math.cos(Math.PI / 100)), noWarmup.lr(1), 1e-15);
        assertEquals(0, noWarmup.lr(100));
    }

    @Test
    void palmIsOneOverSqrtKAfterTenThousand() {
        LrSchedule s = LrSchedule.palm();
        assertEquals(1e-2, s.lr(1));
        assertEquals(1e-2, s.lr(10_000));
        assertEquals(1 / Math.sqrt(10_001), s.lr(10_001), 1e-17);
        assertEquals(0.005, s.lr(40_000), 1e-17);
        assertEquals(1e-3, s.lr(1_000_000), 1e-18);
        LrSchedule warm = LrSchedule.palm(1e-2, 10_000, 100);
        assertEquals(1e-4, warm.lr(1), 1e-18);
        assertEquals(5e-3, warm.lr(50), 1e-18);
        assertEquals(1e-2, warm.lr(100));
        assertEquals(1e-2, warm.lr(101));
        assertEquals(s.lr(20_000), warm.lr(20_000));
    }

    @Test
    void badValuesNameTheirKey() {
        expect("schedule.lr", () -> LrSchedule.constant(0));
        expect("schedule.lr", () -> LrSchedule.constant(Double.NaN));
        expect("schedule.lr", () -> LrSchedule.warmupCosine(-1, 0, 10, 0));
        expect("schedule.warmup_steps", () -> LrSchedule.warmupCosine(1e-3, -1, 10, 0));
        expect("schedule.total_steps", () -> LrSchedule.warmupCosine(1e-3, 10, 10, 0));
        expect("schedule.min_lr", () -> LrSchedule.warmupCosine(1e-3, 1, 10, 2e-3));
        expect("schedule.min_lr", () -> LrSchedule.warmupCosine(1e-3, 1, 10, -1));
        expect("schedule.lr", () -> LrSchedule.palm(Double.POSITIVE_INFINITY, 10, 0));
        expect("schedule.constant_steps", () -> LrSchedule.palm(1e-2, 0, 0));
        expect("schedule.warmup_steps", () -> LrSchedule.palm(1e-2, 10, 11));
        assertThrows(IllegalArgumentException.class, () -> LrSchedule.palm().lr(0));
    }

    private static void expect(String key, Executable make) {
        InputException e = assertThrows(InputException.class, make);
        assertTrue(e.problem().startsWith(key + " = "), e.getMessage());
    }
}
