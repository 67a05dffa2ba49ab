package dev.palm4j.train.config;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;

/**
 * The {@code spikes:} section: PaLM's answer to loss spikes (Chowdhery et al. 2022, §5.1): when a
 * step's loss exceeds {@code factor} times the median of the last {@code window} losses, restart
 * from a checkpoint about {@code rollback_steps} earlier and skip the next {@code skip_batches}
 * batches of data from there (PaLM: about 100 steps back, 200 to 500 batches skipped), since a
 * spike comes from a particular stretch of data meeting a particular state of the model.
 *
 * @param enabled       watch for spikes
 * @param factor        a loss above factor x the recent median is a spike
 * @param window        losses in the median; the rule starts once half of them are in
 * @param rollbackSteps roll back to the newest checkpoint at least this many steps before the spike
 * @param skipBatches   batches skipped after the checkpoint's data position
 */
public record SpikeConfig(boolean enabled, double factor, int window, int rollbackSteps, int skipBatches) {

    static final List<String> KEYS = List.of("enabled", "factor", "window", "rollback_steps", "skip_batches");

    public static final SpikeConfig DEFAULT = new SpikeConfig(true, 2.0, 50, 100, 200);

    public SpikeConfig {
        Check.range("spikes.factor", factor, 1, Double.POSITIVE_INFINITY, true);
        Check.atLeast("spikes.window", window, 2);
        Check.atLeast("spikes.rollback_steps", rollbackSteps, 0);
        Check.atLeast("spikes.skip_batches", skipBatches, 0);
    }

    static SpikeConfig read(Keys in) {
        SpikeConfig d = DEFAULT;
        return new SpikeConfig(in.bool("enabled", d.enabled), in.number("factor", d.factor), in.integer("window", d.window),
                in.integer("rollback_steps", d.rollbackSteps), in.integer("skip_batches", d.skipBatches));
    }

    void write(ObjectNode out) {
        out.put("enabled", enabled).put("factor", factor).put("window", window).put("rollback_steps", rollbackSteps)
                .put("skip_batches", skipBatches);
    }
}
