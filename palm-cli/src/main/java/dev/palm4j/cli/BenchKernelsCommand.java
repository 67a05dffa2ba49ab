package dev.palm4j.cli;

import dev.palm4j.core.bench.KernelBench;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code palm bench kernels}: GEMM and attention throughput. */
@Command(name = "kernels",
        header = "GEMM GFLOP/s (vs FMA peak, two vector widths) and attention forward+backward time vs T.",
        description = {
            "GEMM: square n x n x n products at each thread count, medians of quiet samples, as a"
                + " fraction of the FMA peak measured in the same run; then the same at half the"
                + " vector width in a child JVM (the width is fixed when a JVM starts). Attention:"
                + " causal MQA forward and forward+backward at each T; time should grow as T^2.",
            "",
            "Examples:",
            "  palm bench kernels",
            "  palm bench kernels --sizes 1024,2048 --threads 1,2 --json",
        })
final class BenchKernelsCommand implements Callable<Integer> {
    @Option(names = "--sizes", split = ",", defaultValue = "256,512,1024,2048", paramLabel = "N",
            description = "GEMM sizes (default: ${DEFAULT-VALUE}).")
    int[] sizes;

    @Option(names = "--threads", split = ",", paramLabel = "N", description = "Thread counts (default: 1 and the number of CPUs).")
    int[] threads;

    @Option(names = "--seq-lens", split = ",", defaultValue = "512,1024,2048", paramLabel = "T",
            description = "Attention sequence lengths (default: ${DEFAULT-VALUE}).")
    int[] seqLens;

    @Option(names = "--samples", defaultValue = "7", description = "Quiet samples per point (default: ${DEFAULT-VALUE}).")
    int samples;

    @Option(names = "--no-other-width", description = "Skip the half-width GEMM run in a child JVM.")
    boolean noOtherWidth;

    @Option(names = "--json", description = "Also print one JSON object as the last line.")
    boolean json;

    @Spec CommandSpec spec;

    @Override
    public Integer call() {
        int[] ts = BenchOptions.threads(threads);
        BenchOptions.positive(sizes, "--sizes");
        BenchOptions.positive(seqLens, "--seq-lens");
        BenchOptions.positive(new int[] {samples}, "--samples");
        var out = new java.io.PrintStream(new java.io.FileOutputStream(java.io.FileDescriptor.out), true);
        Map<String, Object> result = KernelBench.run(new KernelBench.Options(sizes, ts, seqLens, samples, !noOtherWidth), out);
        if (json) out.println(BenchOptions.json(result));
        return 0;
    }
}
