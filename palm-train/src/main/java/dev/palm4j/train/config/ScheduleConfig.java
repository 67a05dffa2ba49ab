package dev.palm4j.train.config;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.palm4j.core.InputException;
import java.util.List;
import java.util.Locale;

/**
 * The {@code schedule:} section: the learning rate at each step. Every kind may start with a
 * linear warmup from 0. A setting the kind does not have is 0 (ints) or NaN (min_lr) here,
 * absent from the YAML, and an error when a config sets it.
 *
 * @param kind          {@code constant}: lr after the warmup; {@code warmup_cosine}: warmup, then
 *                      a cosine from lr down to min_lr at total_steps (min_lr after it);
 *                      {@code palm}: lr until constant_steps, then lr·sqrt(constant_steps / step)
 *                      (PaLM: 1e-2 for 10k steps, then 1/sqrt(k))
 * @param lr            peak learning rate
 * @param warmupSteps   steps of linear warmup from 0 to lr; 0 = none
 * @param totalSteps    warmup_cosine: the step where the cosine reaches min_lr
 * @param minLr         warmup_cosine: the final learning rate
 * @param constantSteps palm: steps at lr before the 1/sqrt decay
 */
public record ScheduleConfig(Kind kind, double lr, int warmupSteps, int totalSteps, double minLr, int constantSteps) {

    public enum Kind {
        CONSTANT, WARMUP_COSINE, PALM;

        public String configName() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    static final List<String> KEYS = List.of("kind", "lr", "warmup_steps", "total_steps", "min_lr", "constant_steps");

    static List<String> keysFor(Kind kind) {
        return switch (kind) {
            case CONSTANT -> List.of("kind", "lr", "warmup_steps");
            case WARMUP_COSINE -> List.of("kind", "lr", "warmup_steps", "total_steps", "min_lr");
            case PALM -> List.of("kind", "lr", "warmup_steps", "constant_steps");
        };
    }

    public ScheduleConfig {
        Check.notNull("schedule.kind", kind);
        Check.positive("schedule.lr", lr);
        Check.atLeast("schedule.warmup_steps", warmupSteps, 0);
        String why = "schedule.kind = " + kind.configName();
        if (kind == Kind.WARMUP_COSINE) {
            Check.atLeast("schedule.total_steps", totalSteps, 1);
            if (warmupSteps > totalSteps)
                throw new InputException("schedule.warmup_steps = " + warmupSteps + " exceeds schedule.total_steps = "
                        + totalSteps, "the cosine starts after the warmup and ends at total_steps, which defaults to train.steps (and --steps):"
                        + " set schedule.total_steps or lower schedule.warmup_steps");
            Check.range("schedule.min_lr", minLr, 0, lr, false);
        } else {
            Check.unset("schedule.total_steps", totalSteps, why);
            Check.unset("schedule.min_lr", minLr, why);
        }
        if (kind == Kind.PALM) {
            Check.atLeast("schedule.constant_steps", constantSteps, 1);
            if (warmupSteps > constantSteps)
                throw new InputException("schedule.warmup_steps = " + warmupSteps
                        + " exceeds schedule.constant_steps = " + constantSteps, "the warmup is part of the constant phase");
        } else {
            Check.unset("schedule.constant_steps", constantSteps, why);
        }
    }

    /** A constant learning rate, no warmup. */
    public static ScheduleConfig constant(double lr) {
        return new ScheduleConfig(Kind.CONSTANT, lr, 0, 0, Double.NaN, 0);
    }

    /** total_steps defaults to {@code trainSteps}, min_lr to lr/10, constant_steps to PaLM's 10000. */
    static ScheduleConfig read(Keys in, int trainSteps) {
        Kind kind = in.choice("kind", Kind.CONSTANT, Kind.values(), Kind::configName);
        in.onlyFor("schedule.kind = " + kind.configName(), keysFor(kind), KEYS);
        double lr = in.number("lr");
        boolean cosine = kind == Kind.WARMUP_COSINE, palm = kind == Kind.PALM;
        return new ScheduleConfig(kind, lr, in.integer("warmup_steps", 0), cosine ? in.integer("total_steps", trainSteps) : 0,
                cosine ? in.number("min_lr", lr / 10) : Double.NaN, palm ? in.integer("constant_steps", 10_000) : 0);
    }

    void write(ObjectNode out) {
        out.put("kind", kind.configName()).put("lr", lr).put("warmup_steps", warmupSteps);
        if (kind == Kind.WARMUP_COSINE) out.put("total_steps", totalSteps).put("min_lr", minLr);
        if (kind == Kind.PALM) out.put("constant_steps", constantSteps);
    }
}
