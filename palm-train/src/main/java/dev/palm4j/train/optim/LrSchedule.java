package dev.palm4j.train.optim;

import dev.palm4j.core.InputException;

/**
 * The learning rate for update {@code k} (1-based: the first update is k = 1).
 *
 * <p>Config keys (section {@code schedule}): {@code kind} = {@code constant} | {@code cosine} |
 * {@code palm}, and per kind:
 * <ul>
 *   <li>{@code constant}: {@code lr}.
 *   <li>{@code cosine}: {@code lr} (the peak), {@code warmup_steps}, {@code total_steps},
 *       {@code min_lr}: {@link #warmupCosine}.
 *   <li>{@code palm}: {@code lr} (1e-2), {@code constant_steps} (10000), {@code warmup_steps}
 *       (0): {@link #palm}.
 * </ul>
 * Every value is computed in double with {@link StrictMath}, so it is the same on every JVM and
 * JIT tier (the lr feeds the weights, which must resume bitwise).
 */
@FunctionalInterface
public interface LrSchedule {

    double lr(long step);

    /** {@code lr} at every step. */
    static LrSchedule constant(double lr) {
        return new Constant(lr);
    }

    /**
     * Linear warmup from 0 to {@code peak} ({@code peak * k / warmup} for k <= warmup), then a half
     * cosine from {@code peak} down to {@code minLr} at {@code totalSteps}, then {@code minLr}.
     */
    static LrSchedule warmupCosine(double peak, long warmupSteps, long totalSteps, double minLr) {
        return new WarmupCosine(peak, warmupSteps, totalSteps, minLr);
    }

    /**
     * PaLM (§5, "Optimization hyperparameters"): {@code peak} for k <= {@code constantSteps}, then
     * {@code peak * sqrt(constantSteps / k)}, which is 1/sqrt(k) for PaLM's 1e-2 and 10000; with
     * {@code warmupSteps > 0} a linear warmup {@code peak * k / warmup} replaces the first steps
     * (PaLM used none).
     */
    static LrSchedule palm(double peak, long constantSteps, long warmupSteps) {
        return new Palm(peak, constantSteps, warmupSteps);
    }

    /** PaLM's exact schedule: 1e-2 for 10000 steps, then 1/sqrt(k). */
    static LrSchedule palm() {
        return palm(1e-2, 10_000, 0);
    }

    record Constant(double lr) implements LrSchedule {
        public Constant {
            positive("schedule.lr", lr);
        }

        @Override
        public double lr(long step) {
            checkStep(step);
            return lr;
        }
    }

    record WarmupCosine(double peak, long warmupSteps, long totalSteps, double minLr) implements LrSchedule {
        public WarmupCosine {
            positive("schedule.lr", peak);
            if (warmupSteps < 0)
                throw new InputException("schedule.warmup_steps = " + warmupSteps + " is negative", "use 0 for no warmup");
            if (totalSteps <= warmupSteps)
                throw new InputException("schedule.total_steps = " + totalSteps + " is not above schedule.warmup_steps = "
                        + warmupSteps, "the cosine decays between the two; usually total_steps = train.steps");
            if (!(minLr >= 0 && minLr <= peak))
                throw new InputException("schedule.min_lr = " + minLr + " is outside [0, schedule.lr = " + peak + "]",
                        "0.1 * lr is usual");
        }

        @Override
        public double lr(long step) {
            checkStep(step);
            if (step <= warmupSteps) return peak * step / warmupSteps;
            if (step >= totalSteps) return minLr;
            double progress = (double) (step - warmupSteps) / (totalSteps - warmupSteps);
            return minLr + 0.5 * (peak - minLr) * (1 + StrictMath.cos(Math.PI * progress));
        }
    }

    record Palm(double peak, long constantSteps, long warmupSteps) implements LrSchedule {
        public Palm {
            positive("schedule.lr", peak);
            if (constantSteps < 1)
                throw new InputException("schedule.constant_steps = " + constantSteps + " must be at least 1",
                        "PaLM used 10000");
            if (warmupSteps < 0 || warmupSteps > constantSteps)
                throw new InputException("schedule.warmup_steps = " + warmupSteps + " is outside [0, schedule.constant_steps = "
                        + constantSteps + "]", "PaLM used 0");
        }

        @Override
        public double lr(long step) {
            checkStep(step);
            if (step <= warmupSteps) return peak * step / warmupSteps;
            if (step <= constantSteps) return peak;
            return peak * StrictMath.sqrt((double) constantSteps / step);
        }
    }

    private static void positive(String key, double value) {
        if (!(value > 0) || Double.isInfinite(value))
            throw new InputException(key + " = " + value + " must be a positive number", "for example 1e-3");
    }

    private static void checkStep(long step) {
        if (step < 1) throw new IllegalArgumentException("steps are 1-based, got " + step);
    }
}
