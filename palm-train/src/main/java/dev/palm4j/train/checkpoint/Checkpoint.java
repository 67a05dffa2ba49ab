package dev.palm4j.train.checkpoint;

import dev.palm4j.core.model.PalmConfig;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * Everything a checkpoint holds: what the trainer hands to {@link Checkpoints#save} and gets back
 * from {@link Checkpoints#load}. Arrays are shared, not copied (they can be gigabytes).
 *
 * @param config       the model
 * @param params       full weights in the single-device {@code ParamLayout} order of {@code config}
 * @param optimizer    optimizer state arrays by name ({@code "exp_avg"}, ...), each in the same
 *                     layout as {@code params}; empty for a model-only load
 * @param step         optimizer steps taken
 * @param dataPosition where the data stream resumes (tokens, sequences or batches: the data
 *                     source decides); kept apart from {@code step} so changing the batch size or
 *                     skipping bad batches does not replay or skip data
 * @param rng          opaque RNG state words, restored verbatim
 * @param trainState   free-form JSON-able values the trainer wants back (schedule state, loss
 *                     scale, spike counters, ...); numbers come back as Long or Double
 * @param metrics      named numbers at this step (say {@code val_loss}); {@link Retention} keeps
 *                     the checkpoint with the lowest value of its metric
 */
public record Checkpoint(PalmConfig config, float[] params, Map<String, float[]> optimizer, long step,
                         long dataPosition, long[] rng, Map<String, Object> trainState, Map<String, Double> metrics) {
    public Checkpoint {
        Objects.requireNonNull(config, "config");
        Objects.requireNonNull(params, "params");
        optimizer = Collections.unmodifiableMap(new LinkedHashMap<>(optimizer == null ? Map.of() : optimizer));
        rng = rng == null ? new long[0] : rng.clone();
        trainState = Collections.unmodifiableMap(new LinkedHashMap<>(trainState == null ? Map.of() : trainState));
        metrics = Collections.unmodifiableMap(new LinkedHashMap<>(metrics == null ? Map.of() : metrics));
        if (step < 0) throw new IllegalArgumentException("step " + step);
        if (dataPosition < 0) throw new IllegalArgumentException("data position " + dataPosition);
    }

    @Override public long[] rng() {
        return rng.clone();
    }
}
