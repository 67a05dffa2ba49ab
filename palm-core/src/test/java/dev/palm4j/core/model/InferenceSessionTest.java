package dev.palm4j.core.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.palm4j.core.InputException;
import dev.palm4j.core.kernels.Parallel;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class InferenceSessionTest {

    @ParameterizedTest(name = "heads={0} kv={1} {2}, prompt {3}")
    @CsvSource({"4,1,LAYERNORM,5", "4,2,RMSNORM,1", "2,2,LAYERNORM,9", "3,1,RMSNORM,13"})
    void cachedDecodingGivesTheFullForwardLogitsAtEveryPosition(int heads, int kv, NormKind norm, int prompt) {
        PalmConfig c = new PalmConfig(19, 24, 2, heads, 8, kv, 2, norm, 1e-5f, 10000.0, 20, 1e-4f);
        try (Parallel par = Parallel.of(2)) {
            PalmModel m = new PalmModel(c, par, 21);
            int T = 17;
            int[] seq = new Random(heads + kv).ints(T, 0, c.vocab()).toArray();
            m.forward(seq, null, 1, T);
            float[] full = m.logits();
            InferenceSession s = m.newSession(20);
            float[] got = s.append(seq, 0, prompt); // prefill
            assertRow(full, prompt - 1, got, c.vocab());
            for (int t = prompt; t < T; t++) {
                got = s.append(seq, t, 1);
                assertRow(full, t, got, c.vocab());
            }
            assertEquals(T, s.length());
            InputException e = assertThrows(InputException.class, () -> s.append(seq, 0, 4));
            assertTrue(e.getMessage().contains("past the context"), e.getMessage());
        }
    }

    private static void assertRow(float[] full, int t, float[] got, int V) {
        for (int v = 0; v < V; v++)
            assertEquals(full[t * V + v], got[v], 1e-4 * (1 + Math.abs(full[t * V + v])), "position " + t + " token " + v);
    }
}
