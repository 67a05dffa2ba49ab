package dev.palm4j.train.optim;

import dev.palm4j.core.InputException;
import dev.palm4j.core.kernels.Parallel;
import dev.palm4j.core.model.ParamLayout.Tensor;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * What AdamW and Adafactor share: the tensors, cut once into fixed chunks that never cross a
 * tensor boundary, and the named state arrays.
 *
 * <p>The chunks are the parallel tasks. Their boundaries depend only on the layout, never on the
 * thread count, so any per-chunk partial sum (Adafactor's RMS) is the same for every width.
 */
abstract class ChunkedOptimizer implements Optimizer {
    /** Most floats in one chunk: 64 KiB per array, small enough to balance two to a few threads. */
    static final int CHUNK = 1 << 14;

    final List<Tensor> tensors;
    final Parallel par;
    /** Floats covered by the layout: every array passed to step is at least this long. */
    final int size;
    /** Chunk c covers [lo[c], hi[c]) of tensor tensorOf[c]. */
    final int[] lo, hi, tensorOf;
    /** First chunk of each tensor, plus one past the last: tensor t owns chunks [firstChunk[t], firstChunk[t+1]). */
    final int[] firstChunk;
    private final Map<String, float[]> state = new LinkedHashMap<>();

    ChunkedOptimizer(List<Tensor> tensors, Parallel par, String... stateNames) {
        this.tensors = List.copyOf(tensors);
        this.par = Objects.requireNonNull(par, "par");
        int end = 0;
        List<int[]> chunks = new ArrayList<>();
        firstChunk = new int[this.tensors.size() + 1];
        for (int t = 0; t < this.tensors.size(); t++) {
            Tensor x = this.tensors.get(t);
            firstChunk[t] = chunks.size();
            for (int a = x.offset(); a < x.offset() + x.size(); a += CHUNK)
                chunks.add(new int[] {a, Math.min(a + CHUNK, x.offset() + x.size()), t});
            end = Math.max(end, x.offset() + x.size());
        }
        firstChunk[this.tensors.size()] = chunks.size();
        size = end;
        lo = new int[chunks.size()];
        hi = new int[chunks.size()];
        tensorOf = new int[chunks.size()];
        for (int c = 0; c < chunks.size(); c++) {
            lo[c] = chunks.get(c)[0];
            hi[c] = chunks.get(c)[1];
            tensorOf[c] = chunks.get(c)[2];
        }
        for (String name : stateNames) state.put(name, new float[size]);
    }

    /** The state array called {@code name}, zero at construction. */
    final float[] stateArray(String name) {
        return state.get(name);
    }

    final void checkStep(float[] params, float[] grads, long step, double lr) {
        if (params.length < size || grads.length < size)
            throw new IllegalArgumentException("params (" + params.length + ") and grads (" + grads.length
                    + ") must cover the layout's " + size + " floats");
        if (step < 1) throw new IllegalArgumentException("step is 1-based, got " + step);
        if (!(lr >= 0) || Double.isInfinite(lr)) throw new IllegalArgumentException("learning rate " + lr);
    }

    @Override
    public final Map<String, float[]> state() {
        return Collections.unmodifiableMap(state);
    }

    @Override
    public final void load(Map<String, float[]> saved) {
        String name = getClass().getSimpleName();
        for (String key : saved.keySet())
            if (!state.containsKey(key))
                throw new InputException("optimizer state '" + key + "' is not " + name + " state (expected "
                        + String.join(", ", state.keySet()) + ")",
                        "the checkpoint was written with another optimizer: resume with that one, or start a new run with --init-from");
        for (Map.Entry<String, float[]> e : state.entrySet()) {
            float[] a = saved.get(e.getKey());
            if (a == null)
                throw new InputException("optimizer state '" + e.getKey() + "' is missing",
                        "the checkpoint was written with another optimizer or is incomplete; start a new run with --init-from");
            if (a.length != size)
                throw new InputException("optimizer state '" + e.getKey() + "' has " + a.length + " floats, the model has " + size,
                        "the checkpoint belongs to a different model config");
        }
        for (Map.Entry<String, float[]> e : state.entrySet())
            System.arraycopy(saved.get(e.getKey()), 0, e.getValue(), 0, size);
    }
}
