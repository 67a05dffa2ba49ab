package dev.palm4j.cli;

import dev.palm4j.core.model.PalmConfig;
import dev.palm4j.core.model.PalmModel;
import dev.palm4j.train.checkpoint.Checkpoints;
import dev.palm4j.train.config.RunConfig;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/** {@code palm info}: what a config or checkpoint holds and what it costs. */
@Command(name = "info",
        header = "Show a model's shape, parameter count, FLOPs per token and memory (config or checkpoint).",
        description = {
            "PATH is a run config (.yaml), a checkpoint directory or a run directory. Shows the model,"
                + " its parameters (embedding and the rest), PaLM's FLOPs per token, the bytes of weights,"
                + " and the KV cache per token of context: with multi-query attention one K/V head per"
                + " layer instead of one per query head. For a config, also the training memory of one step.",
            "",
            "Examples:",
            "  palm info configs/small.yaml",
            "  palm info runs/small",
        })
final class InfoCommand implements Callable<Integer> {
    @Parameters(paramLabel = "PATH", description = "A config file, a checkpoint directory or a run directory.")
    Path path;

    @Override
    public Integer call() throws IOException {
        PrintStream out = System.out;
        PalmConfig m;
        RunConfig run = null;
        if (Files.isRegularFile(path)) {
            run = RunConfig.load(path);
            m = run.model();
        } else {
            Checkpoints.Loaded l = CheckpointArg.loadModel(path);
            m = l.checkpoint().config();
            out.printf(Locale.ROOT, "checkpoint   %s (step %d)%n", l.dir(), l.checkpoint().step());
        }
        long emb = (long) m.vocab() * m.dModel(), all = m.parameterCount();
        out.printf(Locale.ROOT, "model        vocab %d, d_model %d, %d layers, %d heads of %d, %d kv head%s, ffn %dx, %s (eps %s), rope base %s, context %d, z_loss %s%n",
                m.vocab(), m.dModel(), m.nLayers(), m.nHeads(), m.headDim(), m.nKvHeads(), m.nKvHeads() == 1 ? " (multi-query)" : "s",
                m.ffnMult(), m.norm().configName(), m.normEps(), m.ropeBase(), m.maxSeqLen(), m.zLoss());
        out.printf(Locale.ROOT, "parameters   %,d (embedding %,d shared with the output, other %,d)%n", all, emb, all - emb);
        out.printf(Locale.ROOT, "weights      %s (float32)%n", mb(4 * all));
        out.printf(Locale.ROOT, "flops/token  %.2f MFLOP at T = %d (PaLM: 6N + 12 L d T, N counting the tied output projection)%n",
                m.flopsPerToken(m.maxSeqLen()) / 1e6, m.maxSeqLen());
        long kvPerToken = 2L * 4 * m.nLayers() * m.nKvHeads() * m.headDim();
        long mhaPerToken = 2L * 4 * m.nLayers() * m.nHeads() * m.headDim();
        out.printf(Locale.ROOT, "kv cache     %,d bytes per token, %s at full context; multi-head attention would need %s (%.0fx)%n",
                kvPerToken, mb(kvPerToken * m.maxSeqLen()), mb(mhaPerToken * m.maxSeqLen()), (double) mhaPerToken / kvPerToken);
        if (run != null) {
            int micro = run.train().batchSize() / run.train().gradAccum();
            long act = 4 * PalmModel.activationFloats(m, micro, run.train().seqLen());
            long states = 2; // AdamW: exp_avg, exp_avg_sq; Adafactor (unfactored, as PaLM): exp_avg, v
            out.printf(Locale.ROOT, "training     weights %s + gradients %s + optimizer %s + activations (micro-batch %d x %d) %s = %s%n",
                    mb(4 * all), mb(4 * all), mb(4 * states * all), micro, run.train().seqLen(), mb(act),
                    mb(4 * all * (2 + states) + act));
        }
        return 0;
    }

    private static String mb(long bytes) {
        return String.format(Locale.ROOT, "%.1f MB", bytes / 1e6);
    }
}
