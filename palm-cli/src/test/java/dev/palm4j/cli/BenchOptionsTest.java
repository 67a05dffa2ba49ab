package dev.palm4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class BenchOptionsTest {
    @Test
    void jsonWritesNonFiniteMeasurementsAsNull() {
        Map<String, Object> peak = new LinkedHashMap<>();
        peak.put("1_threads", 12.5);
        peak.put("2_threads", Double.NaN);
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("vector_bits", 256);
        m.put("bytes", 1L << 40);
        m.put("quiet", true);
        m.put("peak_gflops", peak);
        m.put("gemm", List.of(Map.of("of_peak", Double.POSITIVE_INFINITY), List.of(1.5f, Float.NaN)));
        m.put("none", null);
        assertEquals("{\"vector_bits\":256,\"bytes\":1099511627776,\"quiet\":true,"
                + "\"peak_gflops\":{\"1_threads\":12.5,\"2_threads\":null},"
                + "\"gemm\":[{\"of_peak\":null},[1.5,null]],\"none\":null}", BenchOptions.json(m));
    }
}
