package dev.palm4j.train.optim;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.palm4j.core.InputException;
import dev.palm4j.core.kernels.Parallel;
import dev.palm4j.core.kernels.Simd;

import dev.palm4j.core.model.ParamLayout.Split;
import dev.palm4j.core.model.ParamLayout.Tensor;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.Function;
import java.util.function.Supplier;

/** Layouts, data and comparisons shared by the optimizer tests. */
final class OptimTesting {
    private OptimTesting() {}

    /** A vector (no decay) or matrix (decay) tensor at {@code offset}. */
    static Tensor tensor(String name, int rows, int cols, int offset, boolean vector) {
        return new Tensor(name, rows, cols, offset, rows, cols, 0, 0, Split.REPLICATED, vector);
    }

    /**
     * Awkward sizes, decay and no decay mixed: 1, 7, 33, 100 elements, and a 40012-element matrix
     * that spans three chunks (so widths 2 and 3 really split it).
     */
    static List<Tensor> awkward() {
        List<Tensor> t = new ArrayList<>();
        int at = 0;
        int[][] shapes = {{1, 1, 1}, {3, 11, 0}, {1, 7, 1}, {10, 10, 0}, {7, 5716, 0}, {1, 1, 0}};
        for (int[] s : shapes) {
            t.add(tensor("t" + t.size(), s[0], s[1], at, s[2] == 1));
            at += s[0] * s[1];
        }
        return t;
    }

    static int size(List<Tensor> tensors) {
        Tensor last = tensors.get(tensors.size() - 1);
        return last.offset() + last.size();
    }

    /** Parameters with a different scale per tensor, one of them far below Adafactor's eps2 = 1e-3. */
    static float[] params(List<Tensor> tensors, long seed) {
        Random rng = new Random(seed);
        float[] p = new float[size(tensors)];
        double[] scales = {1.0, 0.3, 1e-4, 0.05, 0.02, 2.0};
        for (int t = 0; t < tensors.size(); t++) {
            Tensor x = tensors.get(t);
            for (int i = 0; i < x.size(); i++) p[x.offset() + i] = (float) (rng.nextGaussian() * scales[t % scales.length]);
        }
        return p;
    }

    /** Gradients for update k: normal, scaled by {@code scale}, a few exact zeros. */
    static float[] grads(int n, long seed, double scale) {
        Random rng = new Random(seed);
        float[] g = new float[n];
        for (int i = 0; i < n; i++) g[i] = rng.nextInt(50) == 0 ? 0f : (float) (rng.nextGaussian() * scale);
        return g;
    }

    /** Gradient scale at update k: grows so Adafactor's update clipping engages on later steps. */
    static double gradScale(long k) {
        return StrictMath.pow(3, k - 1);
    }

    /** Updates {@code from..to} (inclusive) of {@code p} with the seeded gradients of each step. */
    static void run(Optimizer o, float[] p, long from, long to, LrSchedule lr) {
        for (long k = from; k <= to; k++) o.step(p, grads(p.length, 1000 + k, gradScale(k)), k, lr.lr(k));
    }

    /** Widths 1, 2, 3 give the same parameters and state, bit for bit. */
    static void checkWidths(Function<Parallel, Optimizer> make, List<Tensor> tensors, LrSchedule lr) {
        float[] want = null;
        Map<String, float[]> wantState = null;
        for (int w = 1; w <= 3; w++) {
            try (Parallel par = Parallel.of(w)) {
                Optimizer o = make.apply(par);
                float[] p = params(tensors, 7);
                run(o, p, 1, 5, lr);
                if (want == null) {
                    want = p;
                    wantState = copy(o.state());
                    continue;
                }
                assertArrayEquals(want, p, "params at width " + w);
                for (String k : wantState.keySet()) assertArrayEquals(wantState.get(k), o.state().get(k), k + " at width " + w);
            }
        }
    }

    /** 3 steps, save, load into a fresh optimizer, 3 more: bitwise the same as 6 uninterrupted steps. */
    static void checkResume(Supplier<Optimizer> make, List<Tensor> tensors, LrSchedule lr) {
        Optimizer straight = make.get();
        float[] p = params(tensors, 11);
        run(straight, p, 1, 6, lr);

        Optimizer first = make.get();
        float[] q = params(tensors, 11);
        run(first, q, 1, 3, lr);
        Map<String, float[]> saved = copy(first.state());
        float[] savedParams = q.clone();
        run(first, q, 4, 4, lr); // the old optimizer moves on; the saved copy must not follow it

        Optimizer resumed = make.get();
        resumed.load(saved);
        run(resumed, savedParams, 4, 6, lr);
        assertArrayEquals(p, savedParams, "params after resume");
        for (String k : straight.state().keySet())
            assertArrayEquals(straight.state().get(k), resumed.state().get(k), k + " after resume");
    }

    /** Parameters and state after 3 fresh updates of the awkward layout. */
    record Snapshot(float[] params, Map<String, float[]> state) {
        static Snapshot of(Function<List<Tensor>, Optimizer> make, LrSchedule lr) {
            Optimizer o = make.apply(awkward());
            float[] p = OptimTesting.params(awkward(), 13);
            run(o, p, 1, 3, lr);
            return new Snapshot(p, copy(o.state()));
        }

        void assertSame(Snapshot other, String what) {
            assertArrayEquals(params, other.params, what + ": params");
            for (String k : state.keySet()) assertArrayEquals(state.get(k), other.state.get(k), what + ": " + k);
        }
    }

    /**
     * Runs enough updates that C2 compiles the update loops (a few thousand calls of each chunk
     * method and a few hundred thousand loop iterations), so a snapshot taken afterwards comes
     * from compiled code.
     */
    static void warmUp(Function<List<Tensor>, Optimizer> make) {
        List<Tensor> ts = new ArrayList<>();
        for (int t = 0; t < 12; t++) ts.add(tensor("w" + t, 1, 1027, t * 1027, t % 3 == 0));
        Optimizer o = make.apply(ts);
        float[] p = params(ts, 17), g = grads(p.length, 17, 1);
        for (long k = 1; k <= 200; k++) o.step(p, g, k, 1e-3);
    }

    /**
     * Once compiled, a step allocates nothing on the calling thread: some window of 20 steps must
     * allocate 0 bytes within 20 seconds (compilation runs in the background and is slow on a
     * busy machine; code that allocates every step never passes). Skipped when the vector width
     * is wider than the CPU's (e.g. 512 on AVX2): the Vector API then runs its allocating Java
     * fallback.
     */
    static void checkNoAllocation(Function<List<Tensor>, Optimizer> make) {
        assumeTrue(Simd.bits() <= Simd.preferredBits(), "vector width " + Simd.bits() + " is emulated on this CPU");
        assertEquals(0, warmUntilCompiled(make), "bytes allocated by 20 steps after warm-up");
    }

    /**
     * Warms {@code make}'s optimizer up until 20 steps on the awkward layout allocate nothing, which
     * at a native width means C2 compiled the loops with vector intrinsics, or 20 seconds pass;
     * returns the bytes the last 20 steps allocated (-1 at an emulated width, after warmUp only).
     */
    static long warmUntilCompiled(Function<List<Tensor>, Optimizer> make) {
        var mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        List<Tensor> ts = awkward();
        Optimizer o = make.apply(ts);
        float[] p = params(ts, 19), g = grads(p.length, 19, 1);
        warmUp(make);
        if (Simd.bits() > Simd.preferredBits()) return -1; // emulated width: allocates whatever the tier
        long k = 1, bytes = -1, deadline = System.nanoTime() + 20_000_000_000L;
        while (bytes != 0 && System.nanoTime() < deadline) {
            long before = mx.getCurrentThreadAllocatedBytes();
            for (int i = 0; i < 20; i++, k++) o.step(p, g, k, 1e-3);
            bytes = mx.getCurrentThreadAllocatedBytes() - before;
        }
        return bytes;
    }

    /** Missing, unexpected and mis-sized state arrays are InputExceptions naming the array. */
    static void checkLoadErrors(Supplier<Optimizer> make) {
        Optimizer o = make.get();
        Map<String, float[]> good = copy(o.state());
        String first = good.keySet().iterator().next();

        Map<String, float[]> missing = copy(good);
        missing.remove(first);
        assertMessage(make.get(), missing, "'" + first + "' is missing");

        Map<String, float[]> extra = copy(good);
        extra.put("momentum_buffer", new float[good.get(first).length]);
        assertMessage(make.get(), extra, "'momentum_buffer' is not");

        Map<String, float[]> small = copy(good);
        small.put(first, new float[good.get(first).length - 1]);
        assertMessage(make.get(), small, "'" + first + "' has " + (good.get(first).length - 1) + " floats");
    }

    private static void assertMessage(Optimizer o, Map<String, float[]> saved, String part) {
        InputException e = assertThrows(InputException.class, () -> o.load(saved));
        assertTrue(e.getMessage().contains(part), e.getMessage());
        for (float[] s : o.state().values()) // nothing half-loaded
            for (float x : s) assertEquals(0f, x);
    }

    static Map<String, float[]> copy(Map<String, float[]> state) {
        Map<String, float[]> c = new HashMap<>();
        state.forEach((k, v) -> c.put(k, v.clone()));
        return c;
    }

    /** Fails unless |actual - expected| <= atol + rtol |expected| everywhere; names the first bad index. */
    static void assertClose(double[] expected, float[] actual, double rtol, double atol, String what) {
        if (expected.length != actual.length) fail(what + ": length " + actual.length + " != " + expected.length);
        for (int i = 0; i < expected.length; i++) {
            double err = Math.abs(actual[i] - expected[i]);
            if (!(err <= atol + rtol * Math.abs(expected[i])))
                fail(String.format("%s: index %d expected %.9g got %.9g", what, i, expected[i], actual[i]));
        }
    }

    static double[] toDouble(float[] x) {
        double[] d = new double[x.length];
        for (int i = 0; i < x.length; i++) d[i] = x[i];
        return d;
    }
}
