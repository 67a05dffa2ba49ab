package dev.palm4j.cli;

import dev.palm4j.core.InputException;
import dev.palm4j.train.GenerateBench;
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

/** {@code palm bench generate}: batch-1 decode speed against the memory roofline. */
@Command(name = "generate",
        header = "Batch-1 decoding tokens/s with the KV cache, beside the memory roofline and full recompute.",
        description = {
            "Decodes --context tokens one at a time with a randomly initialised model of the config's"
                + " shape. The roofline is the copy bandwidth (bytes read plus written per second, measured with the same"
                + " threads on a 256 MB buffer) over the bytes each token reads: every weight once plus the mean KV cache."
                + " Also compares the last token's time with one full forward pass over the whole context,"
                + " which is what each token would cost without a cache.",
            "",
            "Examples:",
            "  palm bench generate --config configs/anchor-m.yaml",
            "  palm bench generate --config configs/small.yaml --context 256 --json",
        })
final class BenchGenerateCommand implements Callable<Integer> {
    @Option(names = "--config", required = true, paramLabel = "FILE", description = "The config whose model shape to measure.")
    Path config;

    @Option(names = "--context", paramLabel = "T", description = "Tokens to decode (default: model.max_seq_len).")
    Integer context;

    @Option(names = "--threads", paramLabel = "N", description = "Threads (default: train.threads).")
    Integer threads;

    @Option(names = "--json", description = "Also print one JSON object as the last line.")
    boolean json;

    @Override
    public Integer call() {
        RunConfig cfg = RunConfig.load(config, List.of());
        int T = context != null ? context : cfg.model().maxSeqLen();
        if (T < 2 || T > cfg.model().maxSeqLen())
            throw new InputException("--context " + T + " must be in 2.." + cfg.model().maxSeqLen(), "model.max_seq_len bounds it");
        int th = threads != null ? threads : cfg.train().threads();
        BenchOptions.positive(new int[] {th}, "--threads");
        GenerateBench.Result r = GenerateBench.run(cfg.model(), th, T, cfg.train().seed());
        System.out.printf(Locale.ROOT, "%s: %,d parameters, context %d, %d threads%n", config, cfg.model().parameterCount(), T, th);
        System.out.printf(Locale.ROOT, "decode %.1f tokens/s | roofline %.1f tokens/s (%.1f MB per token at %.1f GB/s copy) | %.0f%% of roofline%n",
                r.tokensPerSecond(), r.rooflineTokensPerSecond(), r.bytesPerToken() / 1e6, r.copyGBs(), 100 * r.ofRoofline());
        System.out.printf(Locale.ROOT, "token %d: %.2f ms with the cache, %.1f ms recomputing the full forward: %.1fx faster%n",
                T, r.lastTokenMs(), r.fullForwardMs(), r.speedupOverRecompute());
        if (json) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("tokens_per_s", r.tokensPerSecond());
            m.put("roofline_tokens_per_s", r.rooflineTokensPerSecond());
            m.put("of_roofline", r.ofRoofline());
            m.put("copy_gb_s", r.copyGBs());
            m.put("bytes_per_token", r.bytesPerToken());
            m.put("last_token_ms", r.lastTokenMs());
            m.put("full_forward_ms", r.fullForwardMs());
            m.put("speedup_over_recompute", r.speedupOverRecompute());
            m.put("threads", th);
            System.out.println(BenchOptions.json(m));
        }
        return 0;
    }
}
