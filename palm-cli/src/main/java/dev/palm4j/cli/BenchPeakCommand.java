package dev.palm4j.cli;

import dev.palm4j.core.bench.FmaPeak;
import dev.palm4j.core.kernels.Simd;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code palm bench peak}: the FP32 FMA peak, the denominator of every MFU palm4j reports. */
@Command(name = "peak",
        header = "Measure the FP32 fused-multiply-add peak (GFLOP/s) on 1 and N threads.",
        description = {
            "Runs a register-only Vector API FMA loop with enough independent chains to keep every"
                + " FMA unit busy, on 1 thread and on all threads at once, and reports the median"
                + " of quiet repeats (repeats during which another process used the CPU are rerun)."
                + " MFU figures elsewhere in palm4j divide by this number.",
            "",
            "Examples:",
            "  palm bench peak",
            "  palm bench peak --threads 2 --json",
        })
final class BenchPeakCommand implements Callable<Integer> {
    @Option(names = "--threads", split = ",", paramLabel = "N",
            description = "Thread counts to measure (default: 1 and the number of CPUs).")
    int[] threads;

    @Option(names = "--repeats", defaultValue = "5", description = "Timed repeats per thread count (default: ${DEFAULT-VALUE}).")
    int repeats;

    @Option(names = "--json", description = "Also print one JSON object as the last line.")
    boolean json;

    @Spec CommandSpec spec;

    @Override
    public Integer call() {
        int[] ts = BenchOptions.threads(threads);
        BenchOptions.positive(new int[] {repeats}, "--repeats");
        var out = spec.commandLine().getOut();
        out.printf("FP32 FMA peak, %d-bit vectors, JDK %s, %d CPUs%n", Simd.bits(), Runtime.version(), Runtime.getRuntime().availableProcessors());
        Map<String, Object> j = new LinkedHashMap<>();
        j.put("vector_bits", Simd.bits());
        for (int t : ts) {
            FmaPeak.Result r = FmaPeak.measure(t, repeats, 0.6 * repeats);
            out.printf("  %2d thread%s %8.1f GFLOP/s%s%n", t, t == 1 ? " " : "s", r.gflops(),
                    r.quiet() ? "" : "  (no quiet sample: another process was using the CPU)");
            out.flush();
            j.put("peak_gflops_" + t, r.gflops());
            j.put("peak_gflops", r.gflops()); // the widest run: what MFU divides by
            j.put("quiet_" + t, r.quiet());
        }
        if (json) out.println(BenchOptions.json(j));
        return 0;
    }
}
