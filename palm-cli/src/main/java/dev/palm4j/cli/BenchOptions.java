package dev.palm4j.cli;

import dev.palm4j.core.InputException;

/** Checks shared by the bench commands' options. */
final class BenchOptions {
    private BenchOptions() {}

    static void positive(int[] values, String option) {
        for (int v : values)
            if (v < 1) throw new InputException(option + " " + v + " is not a positive count", "pass 1 or more");
    }
}
