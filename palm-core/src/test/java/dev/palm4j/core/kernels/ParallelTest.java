package dev.palm4j.core.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.concurrent.atomic.AtomicIntegerArray;
import org.junit.jupiter.api.Test;

class ParallelTest {
    @Test
    void everyTaskRunsExactlyOnceForEveryWidth() {
        for (int width : new int[] {1, 2, 3, 5}) {
            try (Parallel par = Parallel.of(width)) {
                assertEquals(width, par.width());
                for (int tasks : new int[] {0, 1, 2, 7, 1000}) {
                    for (int repeat = 0; repeat < 20; repeat++) {
                        AtomicIntegerArray runs = new AtomicIntegerArray(Math.max(tasks, 1));
                        par.forEach(tasks, runs::incrementAndGet);
                        for (int t = 0; t < tasks; t++) assertEquals(1, runs.get(t), "task " + t + " width " + width);
                    }
                }
            }
        }
    }

    @Test
    void rangesCoverEachIndexOnce() {
        try (Parallel par = Parallel.of(3)) {
            for (int n : new int[] {1, 5, 64, 1001}) {
                AtomicIntegerArray hits = new AtomicIntegerArray(n);
                par.forRange(n, 4, (lo, hi) -> {
                    for (int i = lo; i < hi; i++) hits.incrementAndGet(i);
                });
                for (int i = 0; i < n; i++) assertEquals(1, hits.get(i));
            }
        }
    }

    @Test
    void nestedCallsRunInlineInsteadOfDeadlocking() {
        try (Parallel par = Parallel.of(2)) {
            AtomicIntegerArray hits = new AtomicIntegerArray(16);
            par.forEach(4, outer -> par.forEach(4, inner -> hits.incrementAndGet(outer * 4 + inner)));
            for (int i = 0; i < 16; i++) assertEquals(1, hits.get(i));
        }
    }

    @Test
    void aTaskFailureReachesTheCallerAndThePoolStaysUsable() {
        try (Parallel par = Parallel.of(2)) {
            IllegalStateException boom = new IllegalStateException("boom");
            IllegalStateException got = assertThrows(IllegalStateException.class, () -> par.forEach(10, t -> {
                if (t == 7) throw boom;
            }));
            assertSame(boom, got);
            AtomicIntegerArray runs = new AtomicIntegerArray(10);
            par.forEach(10, runs::incrementAndGet);
            for (int t = 0; t < 10; t++) assertEquals(1, runs.get(t));
        }
    }

    @Test
    void widthMustBePositive() {
        assertThrows(IllegalArgumentException.class, () -> Parallel.of(0));
        assertSame(Parallel.SERIAL, Parallel.of(1));
    }
}
