package dev.palm4j.train;

import dev.palm4j.core.bench.Sampler;
import dev.palm4j.core.kernels.Parallel;
import dev.palm4j.core.model.InferenceSession;
import dev.palm4j.core.model.PalmConfig;
import dev.palm4j.core.model.PalmModel;

/**
 * {@code palm bench generate}: batch-1 decoding speed beside its memory roofline. Decoding a
 * token reads every weight once plus the KV cache of the context, so its floor is those bytes
 * over the machine's copy bandwidth (measured here with the same threads on a buffer far larger
 * than the last-level cache). Also times the alternative a KV cache avoids: a full forward pass
 * over the whole context for every new token.
 */
public final class GenerateBench {
    private GenerateBench() {}

    /**
     * @param tokensPerSecond decode speed over positions [0, context)
     * @param rooflineTokensPerSecond copy bandwidth / bytes read per token (weights + mean cache)
     * @param fullForwardMs   one forward pass over {@code context} tokens, the cost per token without a cache
     * @param lastTokenMs     decoding the token at position context - 1 with the cache
     */
    public record Result(int context, double tokensPerSecond, double copyGBs, double bytesPerToken,
                         double rooflineTokensPerSecond, double fullForwardMs, double lastTokenMs, int threads) {
        public double ofRoofline() {
            return tokensPerSecond / rooflineTokensPerSecond;
        }

        public double speedupOverRecompute() {
            return fullForwardMs / lastTokenMs;
        }
    }

    public static Result run(PalmConfig config, int threads, int context, long seed) {
        try (Parallel par = Parallel.of(threads)) {
            PalmModel model = new PalmModel(config, par, seed);
            InferenceSession s = model.newSession(context);
            int[] tok = new int[context];
            java.util.SplittableRandom r = new java.util.SplittableRandom(seed);
            for (int i = 0; i < context; i++) tok[i] = r.nextInt(config.vocab());
            Runnable decodeAll = () -> {
                s.reset();
                for (int i = 0; i < context; i++) s.append(tok, i, 1);
            };
            double decode = Sampler.time(decodeAll, 3.0, 5, 0.5).seconds();
            // The last position alone: fill the cache, then time only the final token.
            double lastMs = medianOf(() -> {
                s.reset();
                s.append(tok, 0, context - 1);
                long t0 = System.nanoTime();
                s.append(tok, context - 1, 1);
                return (System.nanoTime() - t0) / 1e9;
            }, 9) * 1e3;
            double full = Sampler.time(() -> model.forward(tok, null, 1, context), 2.0, 5, 0.3).seconds();
            double copy = copyBandwidth(par);
            double weights = 4.0 * model.params().length;
            double meanCache = 2.0 * 4 * config.nLayers() * model.layout.kvDim * (context / 2.0);
            double bytes = weights + meanCache;
            return new Result(context, context / decode, copy / 1e9, bytes, copy / bytes, full * 1e3, lastMs, threads);
        }
    }

    private static double medianOf(java.util.function.DoubleSupplier run, int n) {
        java.util.List<Double> xs = new java.util.ArrayList<>();
        for (int i = 0; i < n; i++) xs.add(run.getAsDouble());
        return dev.palm4j.core.bench.Stats.median(xs);
    }

    // Memory traffic of a copy, bytes read plus bytes written per second: System.arraycopy split
    // over the threads, 256 MB each way (far beyond a 32 MB L3). Decoding only reads, so this is
    // the rate at which it can stream weights.
    static double copyBandwidth(Parallel par) {
        int n = 1 << 26;
        float[] src = new float[n], dst = new float[n];
        java.util.Arrays.fill(src, 1f);
        Runnable copy = () -> par.forRange(n, 1 << 20, (lo, hi) -> System.arraycopy(src, lo, dst, lo, hi - lo));
        return 2 * 4.0 * n / Sampler.time(copy, 1.0, 7, 0.2).seconds();
    }
}
