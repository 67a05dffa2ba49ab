package dev.palm4j.cli;

import dev.palm4j.core.kernels.Simd;
import dev.palm4j.train.TrainBench;
import dev.palm4j.train.TrainListener;
import dev.palm4j.train.config.RunConfig;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code palm bench train}: training-step throughput and MFU of a config. */
@Command(name = "train",
        header = "Median training-step time, tokens/s and MFU of a config (after warm-up, quiet steps only).",
        description = {
            "Builds the config's model and data, runs --warmup steps, then times --steps full training"
                + " steps (forward, backward, clipping, optimizer update), discarding any step during"
                + " which another process used the CPU. MFU is PaLM's: model FLOPs per token (6N + 12LdT)"
                + " times tokens/s over the FMA peak measured at start. Compare with PyTorch:"
                + " bench/compare-torch.sh.",
            "",
            "Examples:",
            "  palm bench train --config configs/anchor-s.yaml",
            "  palm bench train --config configs/anchor-m.yaml --steps 5 --json",
        })
final class BenchTrainCommand implements Callable<Integer> {
    @Option(names = "--config", required = true, paramLabel = "FILE", description = "The run config to measure.")
    Path config;

    @Option(names = "--set", paramLabel = "KEY=VALUE", description = "Override a config value (repeatable).")
    List<String> sets = new ArrayList<>();

    @Option(names = "--warmup", defaultValue = "3", paramLabel = "N", description = "Untimed steps first (default: ${DEFAULT-VALUE}).")
    int warmup;

    @Option(names = "--steps", defaultValue = "10", paramLabel = "N", description = "Timed quiet steps (default: ${DEFAULT-VALUE}).")
    int steps;

    @Option(names = "--json", description = "Also print one JSON object as the last line.")
    boolean json;

    // A training step allocates under a few MB (dispatch objects); hundreds mean boxed vectors.
    private static final double BOXED_MB = 100;

    @Override
    public Integer call() {
        BenchOptions.positive(new int[] {steps}, "--steps");
        List<String> all = new ArrayList<>(sets);
        // Measure steps only: no evaluation, samples or checkpoints inside the timed loop.
        all.addAll(List.of("train.eval_interval=0", "train.sample_interval=0", "train.checkpoint_interval=0",
                "train.steps=" + (warmup + 5 * steps + 1)));
        // The schedule keeps the config's own length (a short benchmark must not end inside its warmup).
        RunConfig asGiven = RunConfig.load(config, sets);
        if (asGiven.schedule().kind() == dev.palm4j.train.config.ScheduleConfig.Kind.WARMUP_COSINE)
            all.add("schedule.total_steps=" + asGiven.schedule().totalSteps());
        RunConfig cfg = RunConfig.load(config, all);
        TrainBench.Result r = TrainBench.run(cfg, Math.max(0, warmup), steps, new TrainListener() {
            @Override public void onMessage(String message) {
                System.err.println("palm: " + message); // data preparation, on first use
            }
        });
        var t = cfg.train();
        System.out.printf(Locale.ROOT, "%s: %,d parameters, batch %d x %d, %d threads, %d-bit vectors, JDK %s%n", config,
                r.parameters(), t.batchSize(), t.seqLen(), t.threads(), Simd.bits(), Runtime.version());
        System.out.printf(Locale.ROOT, "step %.1f ms (median of %d quiet steps%s) | %.0f tokens/s | %.2f GFLOP/s | MFU %.1f%% of %.0f GFLOP/s peak%n",
                r.stepMs(), r.timedSteps(), r.discarded() > 0 ? ", " + r.discarded() + " noisy discarded" : "",
                r.tokensPerSecond(), r.flopsPerToken() * r.tokensPerSecond() / 1e9, 100 * r.mfu(), r.peakGflops());
        System.out.printf(Locale.ROOT, "where a step goes (device 0, mean over %d steps; ms):%n", r.timedSteps() + r.discarded());
        System.out.printf(Locale.ROOT, "  %-46s %9s %9s %7s%n", "kernel", "forward", "backward", "share");
        double step = r.kernelMs().values().stream().mapToDouble(x -> x[0] + x[1]).sum() + r.otherMs();
        for (var e : r.kernelMs().entrySet()) {
            double[] ms = e.getValue();
            System.out.printf(Locale.ROOT, "  %-46s %9.1f %9.1f %6.1f%%%n", e.getKey().description, ms[0], ms[1], 100 * (ms[0] + ms[1]) / step);
        }
        System.out.printf(Locale.ROOT, "  %-46s %19.1f %6.1f%%%n", "clipping, optimizer, collectives, dispatch", r.otherMs(), 100 * r.otherMs() / step);
        System.out.printf(Locale.ROOT, "allocated %.2f MB per step; GC: %d collections, %d ms during the timed steps%n",
                r.allocatedMbPerStep(), r.gcCount(), r.gcMs());
        if (!Simd.jitHintsInstalled())
            System.out.println("note: the JIT hints that force the kernels' vector helpers inline are not installed"
                    + " (no DiagnosticCommand MBean, or -Dpalm4j.jit.hints=false); some kernels may run slower");
        if (r.allocatedMbPerStep() > BOXED_MB)
            System.out.printf(Locale.ROOT, "note: %.0f MB allocated per step, so vectors were boxed: either the JIT had"
                    + " not compiled the kernels yet (raise --warmup) or, in this JVM, it left some vector operations"
                    + " unexpanded (the kernels above that are slower than usual; results are unaffected;"
                    + " docs/benchmarks.md, \"What C2 decides differently from run to run\")%n", r.allocatedMbPerStep());
        if (json) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("config", config.toString());
            m.put("tokens_per_s", r.tokensPerSecond());
            m.put("mfu", r.mfu());
            m.put("step_ms", r.stepMs());
            m.put("peak_gflops", r.peakGflops());
            m.put("model_gflops", r.flopsPerToken() * r.tokensPerSecond() / 1e9);
            m.put("timed_steps", r.timedSteps());
            m.put("threads", t.threads());
            m.put("vector_bits", Simd.bits());
            Map<String, Object> k = new LinkedHashMap<>();
            for (var e : r.kernelMs().entrySet())
                k.put(e.getKey().name().toLowerCase(Locale.ROOT), List.of(e.getValue()[0], e.getValue()[1]));
            k.put("other", r.otherMs());
            m.put("kernel_ms", k);
            m.put("allocated_mb_per_step", r.allocatedMbPerStep());
            m.put("gc_count", r.gcCount());
            m.put("jit_hints", Simd.jitHintsInstalled());
            System.out.println(BenchOptions.json(m));
        }
        return 0;
    }
}
