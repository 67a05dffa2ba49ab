package dev.palm4j.core.kernels;

import static dev.palm4j.core.kernels.TestArrays.assertClose;
import static dev.palm4j.core.kernels.TestArrays.centralDifference;
import static dev.palm4j.core.kernels.TestArrays.dot;
import static dev.palm4j.core.kernels.TestArrays.randn;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

class EmbeddingTest {
    // Shared pools: their daemon threads live as long as the test JVM.
    static final Parallel p2 = TestArrays.TWO, p3 = TestArrays.THREE;

    static int[] tokens(Random rng, int N, int V) {
        int[] t = new int[N];
        for (int n = 0; n < N; n++) t[n] = rng.nextInt(V);
        return t;
    }

    @Test
    void matchesScalarAndSumsInTokenOrder() {
        Random rng = new Random(1);
        for (int N : new int[] {1, 7, 37, 101})
            for (int V : new int[] {1, 5, 13})
                for (int C : new int[] {1, 3, 9, 17, 33, 100, 512})
                    for (float scale : new float[] {1f, 0.37f}) {
                        int[] tok = tokens(rng, N, V);
                        float[] table = randn(rng, V * C), dout = randn(rng, N * C), dtable0 = randn(rng, V * C);
                        String what = "N=" + N + " V=" + V + " C=" + C + " scale=" + scale;
                        float[] out = new float[2 + N * C];
                        Embedding.forward(Parallel.SERIAL, out, 2, tok, 0, table, 0, N, V, C, scale);
                        assertArrayEquals(ScalarOps.embedding(tok, table, N, C, scale), Arrays.copyOfRange(out, 2, 2 + N * C), what);

                        // scatter-add is compared bitwise: the kernel promises float sums in token order
                        float[] want = dtable0.clone(), got = dtable0.clone();
                        ScalarOps.embeddingBackward(want, dout, tok, N, C, scale);
                        Embedding.backward(Parallel.SERIAL, got, 0, dout, 0, tok, 0, N, V, C, scale);
                        assertArrayEquals(want, got, what + " dtable");
                    }
    }

    @Test
    void offsetsAreHonoured() {
        Random rng = new Random(2);
        int N = 6, V = 4, C = 11;
        int[] tok = tokens(rng, N, V), tokOff = new int[N + 3];
        System.arraycopy(tok, 0, tokOff, 3, N);
        float[] table = randn(rng, V * C), tableOff = new float[V * C + 5];
        System.arraycopy(table, 0, tableOff, 5, V * C);
        float[] out = new float[N * C], outOff = new float[N * C + 1];
        Embedding.forward(Parallel.SERIAL, out, 0, tok, 0, table, 0, N, V, C, 1f);
        Embedding.forward(Parallel.SERIAL, outOff, 1, tokOff, 3, tableOff, 5, N, V, C, 1f);
        assertArrayEquals(out, Arrays.copyOfRange(outOff, 1, 1 + N * C));
        float[] dt = new float[V * C], dtOff = new float[V * C + 5], dout = randn(rng, N * C), doutOff = new float[N * C + 1];
        System.arraycopy(dout, 0, doutOff, 1, N * C);
        Embedding.backward(Parallel.SERIAL, dt, 0, dout, 0, tok, 0, N, V, C, 1f);
        Embedding.backward(Parallel.SERIAL, dtOff, 5, doutOff, 1, tokOff, 3, N, V, C, 1f);
        assertArrayEquals(dt, Arrays.copyOfRange(dtOff, 5, 5 + V * C));
    }

    @Test
    void backwardMatchesFiniteDifferences() {
        Random rng = new Random(3);
        int N = 9, V = 4, C = 5;
        float scale = 0.7f;
        int[] tok = tokens(rng, N, V);
        float[] table = randn(rng, V * C), G = randn(rng, N * C), out = new float[N * C];
        java.util.function.DoubleSupplier loss = () -> {
            Embedding.forward(Parallel.SERIAL, out, 0, tok, 0, table, 0, N, V, C, scale);
            return dot(out, G);
        };
        float[] dt = new float[V * C], fd = new float[V * C];
        Embedding.backward(Parallel.SERIAL, dt, 0, G, 0, tok, 0, N, V, C, scale);
        for (int i = 0; i < V * C; i++) fd[i] = (float) centralDifference(table, i, 1e-2, loss);
        assertClose(fd, dt, 1e-3, 1e-4, "dtable vs finite differences");
    }

    @Test
    void badIdsAreRejectedWithIdAndVocabSize() {
        float[] table = new float[4 * 3], out = new float[2 * 3];
        Arrays.fill(out, 5f);
        for (int bad : new int[] {4, -1, Integer.MAX_VALUE}) {
            int[] tok = {1, bad};
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> Embedding.forward(Parallel.SERIAL, out, 0, tok, 0, table, 0, 2, 4, 3, 1f));
            assertTrue(e.getMessage().contains("token id " + bad) && e.getMessage().contains("size 4"), e.getMessage());
            assertThrows(IllegalArgumentException.class,
                    () -> Embedding.backward(Parallel.SERIAL, table, 0, out, 0, tok, 0, 2, 4, 3, 1f));
        }
        for (float x : out) assertEquals(5f, x); // nothing written before the check
        for (float x : table) assertEquals(0f, x);
    }

    @Test
    void bitwiseIdenticalForEveryWidth() {
        Random rng = new Random(4);
        int N = 400, V = 7, C = 517; // heavy repetition; channels split across threads
        int[] tok = tokens(rng, N, V);
        float[] table = randn(rng, V * C), dout = randn(rng, N * C);
        float[][] ref = null;
        for (Parallel par : new Parallel[] {Parallel.SERIAL, p2, p3}) {
            float[] out = new float[N * C], dt = new float[V * C];
            Embedding.forward(par, out, 0, tok, 0, table, 0, N, V, C, 0.5f);
            Embedding.backward(par, dt, 0, dout, 0, tok, 0, N, V, C, 1f);
            Embedding.backward(par, dt, 0, dout, 0, tok, 0, N, V, C, 0.3f);
            if (ref == null) ref = new float[][] {out, dt};
            else {
                assertArrayEquals(ref[0], out, "forward at width " + par.width());
                assertArrayEquals(ref[1], dt, "backward at width " + par.width());
            }
        }
    }
}
