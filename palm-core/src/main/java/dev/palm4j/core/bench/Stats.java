package dev.palm4j.core.bench;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/** Small statistics for benchmark reports. */
public final class Stats {
    private Stats() {}

    /** Median of the values (mean of the middle two for an even count). */
    public static double median(List<Double> values) {
        if (values.isEmpty()) throw new IllegalArgumentException("median of no values");
        List<Double> v = new ArrayList<>(values);
        Collections.sort(v);
        int n = v.size();
        return n % 2 == 1 ? v.get(n / 2) : 0.5 * (v.get(n / 2 - 1) + v.get(n / 2));
    }
}
