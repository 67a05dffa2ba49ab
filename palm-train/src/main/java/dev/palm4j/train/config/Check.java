package dev.palm4j.train.config;

import dev.palm4j.core.InputException;

/** The rules the config records check on construction; each message names key, value and rule. */
final class Check {
    private Check() {}

    static void atLeast(String key, long v, long min) {
        if (v < min) throw new InputException(key + " = " + v + " must be at least " + min, null);
    }

    /** lo <= v <= hi (or v < hi when {@code hiOpen}), and finite. */
    static void range(String key, double v, double lo, double hi, boolean hiOpen) {
        if (!(v >= lo) || !(hiOpen ? v < hi : v <= hi) || !Double.isFinite(v))
            throw new InputException(key + " = " + v + " must be in [" + lo + ", " + hi + (hiOpen ? ")" : "]"), null);
    }

    static void positive(String key, double v) {
        if (!(v > 0) || !Double.isFinite(v)) throw new InputException(key + " = " + v + " must be a positive number", null);
    }

    static void nonNegative(String key, double v) {
        if (!(v >= 0) || !Double.isFinite(v)) throw new InputException(key + " = " + v + " must be >= 0", null);
    }

    /** A setting that the chosen kind does not have is NaN (doubles) or 0 (ints) in the record. */
    static void unset(String key, double v, String why) {
        if (!Double.isNaN(v)) throw new InputException(key + " = " + v + " does not apply to " + why, "leave it NaN");
    }

    static void unset(String key, int v, String why) {
        if (v != 0) throw new InputException(key + " = " + v + " does not apply to " + why, "leave it 0");
    }

    static void notNull(String key, Object v) {
        if (v == null) throw new InputException(key + " is missing", null);
    }
}
