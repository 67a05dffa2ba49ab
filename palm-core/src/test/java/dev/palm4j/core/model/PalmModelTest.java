package dev.palm4j.core.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.palm4j.core.kernels.Parallel;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class PalmModelTest {
    private static final Parallel PAR = Parallel.of(2);

    @AfterAll
    static void close() {
        PAR.close();
    }

    static PalmConfig tiny(int layers, int heads, int kv, NormKind norm) {
        return new PalmConfig(13, 12, layers, heads, 6, kv, 2, norm, 1e-5f, 10000.0, 16, 1e-4f);
    }

    static int[][] batch(Random rng, int vocab, int B, int T) {
        int[] in = new int[B * T], tg = new int[B * T];
        for (int i = 0; i < in.length; i++) {
            in[i] = rng.nextInt(vocab);
            tg[i] = rng.nextInt(vocab);
        }
        return new int[][] {in, tg};
    }

    @ParameterizedTest(name = "layers={0} heads={1} kv={2} {3}")
    @CsvSource({"1,2,1,LAYERNORM", "1,2,2,RMSNORM", "2,4,2,LAYERNORM", "2,3,1,RMSNORM", "3,4,4,LAYERNORM"})
    void forwardMatchesTheScalarReference(int layers, int heads, int kv, NormKind norm) {
        PalmConfig c = tiny(layers, heads, kv, norm);
        PalmModel m = new PalmModel(c, PAR, 7);
        int B = 2, T = 9;
        int[][] io = batch(new Random(layers * 31 + heads), c.vocab(), B, T);
        PalmModel.Loss got = m.forward(io[0], io[1], B, T);
        double[] logits = new double[B * T * c.vocab()];
        double[] want = PalmReference.loss(c, m.layout, m.params(), io[0], io[1], B, T, logits);
        assertEquals(want[0], got.loss(), 2e-5 * Math.abs(want[0]), "loss");
        assertEquals(want[1], got.ce(), 2e-5 * Math.abs(want[1]), "ce");
        float[] lg = m.logits();
        for (int i = 0; i < lg.length; i++) assertEquals(logits[i], lg[i], 2e-4 * (1 + Math.abs(logits[i])), "logit " + i);
    }

    @ParameterizedTest(name = "heads={0} kv={1} {2}")
    @CsvSource({"2,1,LAYERNORM", "2,2,RMSNORM", "4,2,LAYERNORM", "2,2,LAYERNORM", "4,1,RMSNORM"})
    void everyGradientMatchesFiniteDifferencesOfTheReference(int heads, int kv, NormKind norm) {
        PalmConfig c = tiny(2, heads, kv, norm);
        PalmModel m = new PalmModel(c, PAR, 11);
        // Smaller weights than PaLM's N(0,1) embedding keep the loss surface smooth for the check.
        float[] w = m.params();
        for (int i = 0; i < w.length; i++) w[i] *= 0.5f;
        int B = 2, T = 7;
        int[][] io = batch(new Random(heads * 7 + kv), c.vocab(), B, T);
        io[1][3] = -1; // an ignored target
        m.zeroGrads();
        PalmModel.Loss loss = m.forwardBackward(io[0], io[1], B, T, 1f / (B * T - 1));
        assertEquals(B * T - 1, loss.tokens());
        float[] g = m.grads();
        Random pick = new Random(3);
        for (ParamLayout.Tensor t : m.layout.tensors()) {
            for (int s = 0; s < 6; s++) {
                int i = t.offset() + pick.nextInt(t.size());
                float saved = w[i];
                double h = 1e-3;
                w[i] = (float) (saved + h);
                double hp = w[i] - saved;
                double plus = PalmReference.loss(c, m.layout, w, io[0], io[1], B, T, null)[0];
                w[i] = (float) (saved - h);
                double hm = saved - w[i];
                double minus = PalmReference.loss(c, m.layout, w, io[0], io[1], B, T, null)[0];
                w[i] = saved;
                double fd = (plus - minus) / (hp + hm);
                double err = Math.abs(fd - g[i]);
                assertTrue(err <= 2e-3 * Math.abs(fd) + 1e-5,
                        t.name() + "[" + (i - t.offset()) + "]: analytic " + g[i] + " vs finite difference " + fd);
            }
        }
    }

    @Test
    void initialLossIsAboveLnVocabWithTiedUnitEmbeddings() {
        PalmConfig c = new PalmConfig(64, 32, 2, 4, 8, 1, 4, NormKind.LAYERNORM, 1e-5f, 10000.0, 32, 1e-4f);
        PalmModel m = new PalmModel(c, PAR, 1234);
        int[][] io = batch(new Random(1), c.vocab(), 2, 16);
        PalmModel.Loss loss = m.forward(io[0], io[1], 2, 16);
        double[] ref = PalmReference.loss(c, m.layout, m.params(), io[0], io[1], 2, 16, null);
        assertEquals(ref[0], loss.loss(), 1e-4 * ref[0]);
        assertTrue(loss.ce() > Math.log(c.vocab()), "ce " + loss.ce() + " vs ln V " + Math.log(c.vocab()));
        assertTrue(loss.loss() > loss.ce(), "z-loss adds a positive term");
    }

    @Test
    void resultsAreBitwiseIndependentOfThreadCount() {
        PalmConfig c = tiny(2, 4, 1, NormKind.LAYERNORM);
        int[][] io = batch(new Random(5), c.vocab(), 3, 11);
        float[][] grads = new float[3][];
        double[] losses = new double[3];
        int i = 0;
        for (int width : new int[] {1, 2, 3}) {
            try (Parallel par = Parallel.of(width)) {
                PalmModel m = new PalmModel(c, par, 99);
                PalmModel.Loss l = m.forwardBackward(io[0], io[1], 3, 11, 1f / 33);
                losses[i] = l.loss();
                grads[i++] = m.grads().clone();
            }
        }
        assertEquals(losses[0], losses[1]);
        assertEquals(losses[0], losses[2]);
        assertArrayEquals(grads[0], grads[1]);
        assertArrayEquals(grads[0], grads[2]);
    }

    @Test
    void gradientsAccumulateAcrossCalls() {
        PalmConfig c = tiny(1, 2, 1, NormKind.RMSNORM);
        PalmModel m = new PalmModel(c, PAR, 3);
        int[][] io = batch(new Random(8), c.vocab(), 2, 5);
        m.forwardBackward(io[0], io[1], 2, 5, 0.1f);
        float[] once = m.grads().clone();
        m.forwardBackward(io[0], io[1], 2, 5, 0.1f);
        float[] twice = m.grads();
        for (int i = 0; i < once.length; i++) assertEquals(2 * once[i], twice[i], 1e-6 + 1e-5 * Math.abs(once[i]));
    }
}
