package dev.palm4j.train;

import java.nio.file.Path;

/**
 * What a training run reports as it goes: the CLI draws progress from it, a library user can
 * collect metrics. Every method has an empty default; all are called on the training thread.
 */
public interface TrainListener {
    /** Before the first step: where the run starts and what it will cost. */
    default void onStart(Trainer.Plan plan) {}

    /** After every optimizer step (skipped steps included, with {@code skipped} set). */
    default void onStep(Trainer.StepMetrics m) {}

    /** After each evaluation on the validation split. */
    default void onEval(long step, double valLoss, double valCe) {}

    /** A sample continuing the configured prompt. */
    default void onSample(long step, String prompt, String text) {}

    /** A checkpoint was written. */
    default void onCheckpoint(long step, Path dir) {}

    /** Anything else worth a line: data preparation, resume, a skipped step. */
    default void onMessage(String message) {}
}
