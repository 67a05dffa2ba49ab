package dev.palm4j.train.optim;

import java.util.Map;

/**
 * Updates a flat parameter array (laid out by {@code ParamLayout}) from its gradients.
 *
 * <p>The state is a few named arrays in the same flat layout as the parameters, so a checkpoint
 * can store each one per weight name with the state's name as suffix ({@code embed.weight.exp_avg},
 * DESIGN.md "Weights on disk"). Restoring the state and passing the same step count and learning
 * rate continues bitwise as if the run had never stopped: no other state is kept.
 *
 * <p>Not thread-safe: one optimizer per device, driven by one thread; the update itself fans out
 * through the device's {@code Parallel}. Updates are bitwise the same for every thread count.
 */
public interface Optimizer {

    /**
     * One update of {@code params} in place from {@code grads} (read only).
     *
     * @param step 1-based count of updates so far, this one included
     * @param lr the learning rate for this update (from an {@link LrSchedule})
     */
    void step(float[] params, float[] grads, long step, double lr);

    /**
     * The live state arrays by name (e.g. {@code exp_avg}, {@code exp_avg_sq}), each as long as
     * the layout. Read them to save a checkpoint; do not modify them.
     */
    Map<String, float[]> state();

    /**
     * Replaces the state with copies of {@code saved}, which must hold exactly the names of
     * {@link #state()} with arrays of the same lengths.
     *
     * @throws dev.palm4j.core.InputException naming the missing, unexpected or mis-sized array
     */
    void load(Map<String, float[]> saved);
}
