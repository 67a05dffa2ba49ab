package dev.palm4j.train.optim;

import static dev.palm4j.train.optim.OptimTesting.*;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.palm4j.core.InputException;
import dev.palm4j.core.kernels.Parallel;
import dev.palm4j.core.model.ParamLayout.Split;
import dev.palm4j.core.model.ParamLayout.Tensor;
import java.util.List;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class AdafactorTest {
    /** Large enough that weight decay lr^2 shows; decays so the lr changes every step. */
    static final LrSchedule LR = LrSchedule.palm(0.1, 2, 1);

    @Test
    void matchesDoubleTwinOnAwkwardSizes() {
        List<Tensor> ts = awkward();
        for (Adafactor.Settings s : List.of(Adafactor.Settings.PALM, new Adafactor.Settings(0.0, 0.5, 1e-20, 1e-2, 0.7, 3.0))) {
            Adafactor o = new Adafactor(ts, Parallel.SERIAL, s, null);
            AdafactorReference ref = new AdafactorReference(ts, s);
            float[] p = params(ts, 3);
            double[] want = toDouble(p);
            for (long k = 1; k <= 6; k++) {
                float[] g = grads(p.length, 1000 + k, gradScale(k));
                o.step(p, g, k, LR.lr(k));
                ref.step(want, g, k, LR.lr(k));
                assertClose(want, p, 1e-5, 1e-7, s + " params at step " + k);
            }
            assertClose(ref.m, o.state().get("exp_avg"), 1e-4, 1e-8, "exp_avg");
            assertClose(ref.v, o.state().get("v"), 1e-5, 0, "v");
            assertTrue(ref.clipped > 0 && ref.unclipped > 0 && ref.floored > 0,
                    "the data exercise clipping both ways and the eps2 floor: " + ref.clipped + "/" + ref.unclipped + "/" + ref.floored);
        }
    }

    /** k = 1: beta2 = 0 so V = G^2 + eps1 and U = sign(G); nothing clips, M = 0.1 * lr * RMS(X) * U. */
    @Test
    void firstStepByHand() {
        List<Tensor> ts = List.of(tensor("w", 2, 2, 0, false), tensor("norm", 1, 2, 4, true));
        Adafactor o = new Adafactor(ts, Parallel.SERIAL);
        float[] p = {3f, -4f, 0f, 0f, 1f, 1f}; // RMS(w) = 2.5, RMS(norm) = 1
        o.step(p, new float[] {2f, -0.5f, 0f, 1e-3f, -1f, 0f}, 1, 0.01);
        double mw = 0.1 * 0.01 * 2.5, mn = 0.1 * 0.01, keep = 1 - 1e-4; // m = (1 - b1) alpha U
        assertClose(new double[] {3 * keep - mw, -4 * keep + mw, 0, -mw, 1 + mn, 1}, p, 1e-6, 1e-9, "params");
        assertClose(new double[] {4, 0.25, 1e-30, 1e-6, 1, 1e-30}, o.state().get("v"), 1e-6, 0, "v");
    }

    /** Taken before anything in this class ran the update loops: interpreted or barely compiled code. */
    static Snapshot cold;

    @BeforeAll
    static void coldRun() {
        cold = Snapshot.of(ts -> new Adafactor(ts, Parallel.SERIAL), LR);
    }

    @Test
    void sameBitsOnceCompiled() {
        warmUntilCompiled(ts -> new Adafactor(ts, Parallel.SERIAL));
        cold.assertSame(Snapshot.of(ts -> new Adafactor(ts, Parallel.SERIAL), LR), "cold vs compiled");
    }

    @Test
    void noAllocationPerStep() {
        checkNoAllocation(ts -> new Adafactor(ts, Parallel.SERIAL));
    }

    @Test
    void sameBitsForEveryWidth() {
        checkWidths(par -> new Adafactor(awkward(), par), awkward(), LR);
    }

    @Test
    void resumeFromSavedStateIsBitwiseIdentical() {
        checkResume(() -> new Adafactor(awkward(), Parallel.SERIAL), awkward(), LR);
        assertEquals(List.of("exp_avg", "v"), List.copyOf(new Adafactor(awkward(), Parallel.SERIAL).state().keySet()));
    }

    @Test
    void loadRejectsForeignState() {
        checkLoadErrors(() -> new Adafactor(awkward(), Parallel.SERIAL));
        Adafactor o = new Adafactor(awkward(), Parallel.SERIAL);
        InputException e = assertThrows(InputException.class, () -> o.load(new AdamW(awkward(), Parallel.SERIAL).state()));
        assertTrue(e.getMessage().contains("'exp_avg_sq' is not Adafactor state"), e.getMessage());
    }

    /**
     * A matrix split by rows over two model ranks, each with its own optimizer and an AxisSum that
     * adds the two ranks' statistics: each half follows the unsplit optimizer's rows.
     */
    @Test
    void rowShardsWithAxisSumFollowTheFullTensor() throws Exception {
        int rows = 6, cols = 50, half = rows / 2 * cols;
        List<Tensor> full = List.of(tensor("norm", 1, cols, 0, true), tensor("w", rows, cols, cols, false));
        float[] p = params(full, 5);
        Adafactor whole = new Adafactor(full, Parallel.SERIAL);
        float[][] shard = new float[2][];
        double[][] mailbox = new double[2][];
        CyclicBarrier meet = new CyclicBarrier(2);
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try {
            Future<?>[] done = new Future<?>[2];
            for (int r = 0; r < 2; r++) {
                int rank = r;
                shard[r] = new float[cols + half];
                System.arraycopy(p, 0, shard[r], 0, cols);
                System.arraycopy(p, cols + rank * half, shard[r], cols, half);
                List<Tensor> mine = List.of(full.get(0),
                        new Tensor("w", rows / 2, cols, cols, rows, cols, rank * rows / 2, 0, Split.ROWS, false));
                Adafactor.AxisSum sum = (buf, off, len) -> {
                    mailbox[rank] = buf.clone();
                    await(meet);
                    for (int i = off; i < off + len; i++) buf[i] = mailbox[0][i] + mailbox[1][i]; // rank order
                    await(meet);
                };
                done[r] = pool.submit(() -> {
                    Adafactor o = new Adafactor(mine, Parallel.SERIAL, Adafactor.Settings.PALM, sum);
                    for (long k = 1; k <= 4; k++) {
                        float[] g = grads(cols + rows * cols, 1000 + k, gradScale(k)), gs = new float[cols + half];
                        System.arraycopy(g, 0, gs, 0, cols);
                        System.arraycopy(g, cols + rank * half, gs, cols, half);
                        o.step(shard[rank], gs, k, LR.lr(k));
                    }
                });
            }
            run(whole, p, 1, 4, LR);
            for (Future<?> f : done) f.get();
        } finally {
            pool.shutdown();
        }
        for (int r = 0; r < 2; r++) {
            double[] want = new double[cols + half];
            for (int i = 0; i < cols; i++) want[i] = p[i];
            for (int i = 0; i < half; i++) want[cols + i] = p[cols + r * half + i];
            assertClose(want, shard[r], 1e-6, 1e-9, "rank " + r);
        }
        List<Tensor> split = List.of(new Tensor("w", 3, 5, 0, 6, 5, 0, 0, Split.ROWS, false));
        assertThrows(IllegalArgumentException.class, () -> new Adafactor(split, Parallel.SERIAL));
    }

    private static void await(CyclicBarrier b) {
        try {
            b.await();
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    @Test
    void settingsNameTheirKey() {
        String[] keys = {"beta1", "decay_rate", "eps1", "eps2", "clip_threshold", "weight_decay"};
        Adafactor.Settings d = Adafactor.Settings.PALM;
        Runnable[] bad = {
            () -> new Adafactor.Settings(1, d.decayRate(), d.eps1(), d.eps2(), d.clipThreshold(), d.weightDecay()),
            () -> new Adafactor.Settings(d.beta1(), 0, d.eps1(), d.eps2(), d.clipThreshold(), d.weightDecay()),
            () -> new Adafactor.Settings(d.beta1(), d.decayRate(), 1e-50, d.eps2(), d.clipThreshold(), d.weightDecay()),
            () -> new Adafactor.Settings(d.beta1(), d.decayRate(), d.eps1(), -1, d.clipThreshold(), d.weightDecay()),
            () -> new Adafactor.Settings(d.beta1(), d.decayRate(), d.eps1(), d.eps2(), 0, d.weightDecay()),
            () -> new Adafactor.Settings(d.beta1(), d.decayRate(), d.eps1(), d.eps2(), d.clipThreshold(), -1),
        };
        for (int i = 0; i < keys.length; i++) {
            InputException e = assertThrows(InputException.class, bad[i]::run);
            assertTrue(e.getMessage().startsWith("optimizer." + keys[i] + " = "), e.getMessage());
        }
    }

    @Test
    void stepArgumentsAreChecked() {
        Adafactor o = new Adafactor(awkward(), Parallel.SERIAL);
        float[] p = params(awkward(), 1);
        assertThrows(IllegalArgumentException.class, () -> o.step(p, p.clone(), 0, 0.01));
        assertThrows(IllegalArgumentException.class, () -> o.step(p, new float[3], 1, 0.01));
        assertThrows(IllegalArgumentException.class, () -> o.step(p, p.clone(), 1, Double.NaN));
        assertArrayEquals(params(awkward(), 1), p);
    }
}
