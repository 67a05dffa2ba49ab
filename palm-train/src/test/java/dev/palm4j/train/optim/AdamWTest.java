package dev.palm4j.train.optim;

import static dev.palm4j.train.optim.OptimTesting.*;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.palm4j.core.InputException;
import dev.palm4j.core.kernels.Parallel;
import dev.palm4j.core.model.ParamLayout.Tensor;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class AdamWTest {
    static final LrSchedule LR = LrSchedule.warmupCosine(3e-2, 2, 8, 3e-3);

    /**
     * Two updates worked by hand, lr 0.1, wd 0.1, betas 0.9/0.95, eps 1e-8, for a decayed
     * element p0 = 1, g = 0.5 then -1:
     * <pre>
     *   k=1: p = 0.99; m = 0.05, v = 0.0125; m_hat = 0.5, v_hat = 0.25
     *        p = 0.99 - 0.1 * 0.5 / (0.5 + 1e-8) = 0.890000002
     *   k=2: p = 0.890000002 * 0.99 = 0.88110000198; m = 0.045 - 0.1 = -0.055,
     *        v = 0.011875 + 0.05 = 0.061875; m_hat = -0.055 / 0.19, v_hat = 0.061875 / 0.0975
     *        p = 0.88110000198 + 0.1 * 0.28947368 / 0.79662760 = 0.91743740
     * </pre>
     * The other two elements the same way (the last one in a norm-scale tensor: no decay).
     */
    @Test
    void twoStepsByHand() {
        List<Tensor> ts = List.of(tensor("w", 1, 2, 0, false), tensor("n", 1, 1, 2, true));
        AdamW o = new AdamW(ts, Parallel.SERIAL, new AdamW.Settings(0.9, 0.95, 1e-8, 0.1));
        float[] p = {1f, -2f, 0.5f};
        o.step(p, new float[] {0.5f, 0.1f, -1f}, 1, 0.1);
        assertClose(new double[] {0.890000002, -2.07999999, 0.599999999}, p, 0, 1e-7, "step 1");
        assertClose(new double[] {0.05, 0.01, -0.1}, o.state().get("exp_avg"), 1e-6, 0, "m after step 1");
        assertClose(new double[] {0.0125, 0.0005, 0.05}, o.state().get("exp_avg_sq"), 1e-6, 0, "v after step 1");
        o.step(p, new float[] {-1f, 0.3f, 2f}, 2, 0.1);
        assertClose(new double[] {0.91743740, -2.15006920, 0.56366260}, p, 0, 2e-7, "step 2");
        assertClose(new double[] {-0.055, 0.039, 0.11}, o.state().get("exp_avg"), 1e-6, 0, "m after step 2");
        assertClose(new double[] {0.061875, 0.004975, 0.2475}, o.state().get("exp_avg_sq"), 1e-6, 0, "v after step 2");
    }

    @Test
    void matchesDoubleTwinOnAwkwardSizes() {
        List<Tensor> ts = awkward();
        for (AdamW.Settings s : List.of(AdamW.Settings.DEFAULTS, new AdamW.Settings(0.8, 0.999, 1e-6, 0.5))) {
            AdamW o = new AdamW(ts, Parallel.SERIAL, s);
            AdamWReference ref = new AdamWReference(ts, s);
            float[] p = params(ts, 3);
            double[] want = toDouble(p);
            for (long k = 1; k <= 6; k++) {
                float[] g = grads(p.length, 1000 + k, gradScale(k));
                o.step(p, g, k, LR.lr(k));
                ref.step(want, g, k, LR.lr(k));
                assertClose(want, p, 1e-5, 1e-6, s + " params at step " + k);
            }
            // m cancels terms as large as the last gradients: its error is relative to them
            assertClose(ref.m, o.state().get("exp_avg"), 1e-5, 1e-7 * gradScale(6), "exp_avg");
            assertClose(ref.v, o.state().get("exp_avg_sq"), 1e-5, 1e-9, "exp_avg_sq");
        }
    }

    @Test
    void noDecayTensorsKeepTheirScaleWithZeroGradient() {
        List<Tensor> ts = List.of(tensor("w", 2, 2, 0, false), tensor("norm", 1, 2, 4, true));
        AdamW o = new AdamW(ts, Parallel.SERIAL, new AdamW.Settings(0.9, 0.95, 1e-8, 0.5));
        float[] p = {1f, 1f, 1f, 1f, 1f, 1f};
        o.step(p, new float[6], 1, 0.1);
        assertArrayEquals(new float[] {0.95f, 0.95f, 0.95f, 0.95f, 1f, 1f}, p);
    }

    /** Taken before anything in this class ran the update loops: interpreted or barely compiled code. */
    static Snapshot cold;

    @BeforeAll
    static void coldRun() {
        cold = Snapshot.of(ts -> new AdamW(ts, Parallel.SERIAL), LR);
    }

    @Test
    void sameBitsOnceCompiled() {
        warmUntilCompiled(ts -> new AdamW(ts, Parallel.SERIAL));
        cold.assertSame(Snapshot.of(ts -> new AdamW(ts, Parallel.SERIAL), LR), "cold vs compiled");
    }

    @Test
    void noAllocationPerStep() {
        checkNoAllocation(ts -> new AdamW(ts, Parallel.SERIAL));
    }

    @Test
    void sameBitsForEveryWidth() {
        checkWidths(par -> new AdamW(awkward(), par), awkward(), LR);
    }

    @Test
    void resumeFromSavedStateIsBitwiseIdentical() {
        checkResume(() -> new AdamW(awkward(), Parallel.SERIAL), awkward(), LR);
        assertEquals(List.of("exp_avg", "exp_avg_sq"), List.copyOf(new AdamW(awkward(), Parallel.SERIAL).state().keySet()));
    }

    @Test
    void loadRejectsForeignState() {
        checkLoadErrors(() -> new AdamW(awkward(), Parallel.SERIAL));
    }

    @Test
    void settingsNameTheirKey() {
        assertTrue(assertThrows(InputException.class, () -> new AdamW.Settings(1.0, 0.95, 1e-8, 0.1))
                .getMessage().startsWith("optimizer.beta1 = 1.0"));
        assertTrue(assertThrows(InputException.class, () -> new AdamW.Settings(0.9, -0.1, 1e-8, 0.1))
                .getMessage().startsWith("optimizer.beta2"));
        assertTrue(assertThrows(InputException.class, () -> new AdamW.Settings(0.9, 0.95, 0, 0.1))
                .getMessage().startsWith("optimizer.eps"));
        assertTrue(assertThrows(InputException.class, () -> new AdamW.Settings(0.9, 0.95, 1e-8, Double.NaN))
                .getMessage().startsWith("optimizer.weight_decay"));
    }
}
