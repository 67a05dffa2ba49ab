package dev.palm4j.cli;

import dev.palm4j.core.InputException;
import dev.palm4j.core.io.Json;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Shared by the bench commands: option checks and the {@code --json} line. */
final class BenchOptions {
    private BenchOptions() {}

    /** The given thread counts (checked), or 1 and the number of CPUs. */
    static int[] threads(int[] given) {
        if (given != null) {
            positive(given, "--threads");
            return given;
        }
        int cpus = Runtime.getRuntime().availableProcessors();
        return cpus > 1 ? new int[] {1, cpus} : new int[] {1};
    }

    static void positive(int[] values, String option) {
        for (int v : values)
            if (v < 1) throw new InputException(option + " " + v + " is not a positive count", "pass 1 or more");
    }

    /** {@code value} as compact JSON; a NaN or infinite measurement (JSON has neither) is written as null. */
    static String json(Object value) {
        return Json.write(finite(value));
    }

    private static Object finite(Object v) {
        if ((v instanceof Double || v instanceof Float) && !Double.isFinite(((Number) v).doubleValue())) return null;
        if (v instanceof Map<?, ?> m) {
            Map<Object, Object> out = new LinkedHashMap<>();
            m.forEach((k, x) -> out.put(k, finite(x)));
            return out;
        }
        if (v instanceof List<?> l) return l.stream().map(BenchOptions::finite).toList();
        return v;
    }
}
