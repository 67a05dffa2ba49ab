package dev.palm4j.core.kernels;

import static dev.palm4j.core.kernels.TestArrays.assertClose;
import static dev.palm4j.core.kernels.TestArrays.centralDifference;
import static dev.palm4j.core.kernels.TestArrays.dot;
import static dev.palm4j.core.kernels.TestArrays.randn;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import java.util.Random;
import org.junit.jupiter.api.Test;

class NormTest {
    static final float EPS = Norm.DEFAULT_EPS;
    static final int[] NS = {1, 7, 13, 37};
    static final int[] CS = {1, 3, 9, 17, 33, 100, 512};
    // Shared pools: their daemon threads live as long as the test JVM.
    static final Parallel p2 = TestArrays.TWO, p3 = TestArrays.THREE;

    /** Runs the forward of either norm on contiguous buffers; mean is unused for RMSNorm. */
    static void fwd(Parallel par, boolean centred, float[] out, float[] mean, float[] rstd, float[] x, float[] w, int N, int C) {
        if (centred) Norm.layerNormForward(par, out, 0, mean, 0, rstd, 0, x, 0, w, 0, N, C, EPS);
        else Norm.rmsNormForward(par, out, 0, rstd, 0, x, 0, w, 0, N, C, EPS);
    }

    static void bwd(Parallel par, boolean centred, float[] dx, float[] dw, float[] dout, float[] x, float[] w,
            float[] mean, float[] rstd, int N, int C, boolean acc) {
        if (centred) Norm.layerNormBackward(par, dx, 0, dw, 0, dout, 0, x, 0, w, 0, mean, 0, rstd, 0, N, C, acc);
        else Norm.rmsNormBackward(par, dx, 0, dw, 0, dout, 0, x, 0, w, 0, rstd, 0, N, C, acc);
    }

    @Test
    void forwardMatchesScalar() {
        Random rng = new Random(1);
        for (boolean centred : new boolean[] {true, false})
            for (int N : NS)
                for (int C : CS) {
                    // offset input (mean 3) checks the centring; the RMS scale of such rows is small
                    float[] x = randn(rng, N * C, 1.5);
                    for (int i = 0; i < x.length; i++) x[i] += 3f;
                    float[] w = randn(rng, C);
                    float[] out = new float[N * C], mean = new float[N], rstd = new float[N];
                    fwd(Parallel.SERIAL, centred, out, mean, rstd, x, w, N, C);
                    ScalarOps.NormOut ref = ScalarOps.norm(centred, x, w, N, C, EPS);
                    String what = (centred ? "layernorm" : "rmsnorm") + " N=" + N + " C=" + C;
                    assertClose(ref.out(), out, 1e-4, 1e-5, what + " out");
                    assertClose(ref.rstd(), rstd, 1e-5, 0, what + " rstd");
                    if (centred) assertClose(ref.mean(), mean, 1e-5, 1e-6, what + " mean");
                }
    }

    @Test
    void offsetsAreHonoured() {
        Random rng = new Random(2);
        int N = 5, C = 19, o = 3;
        float[] x = randn(rng, N * C), w = randn(rng, C), dout = randn(rng, N * C);
        float[] out = new float[N * C], mean = new float[N], rstd = new float[N], dx = new float[N * C], dw = new float[C];
        fwd(Parallel.SERIAL, true, out, mean, rstd, x, w, N, C);
        bwd(Parallel.SERIAL, true, dx, dw, dout, x, w, mean, rstd, N, C, false);

        float[] xo = shift(x, o), wo = shift(w, o + 1), douto = shift(dout, o + 2);
        float[] outo = new float[N * C + 4], meano = new float[N + 5], rstdo = new float[N + 6];
        float[] dxo = new float[N * C + 7], dwo = new float[C + 8];
        Norm.layerNormForward(Parallel.SERIAL, outo, 4, meano, 5, rstdo, 6, xo, o, wo, o + 1, N, C, EPS);
        Norm.layerNormBackward(Parallel.SERIAL, dxo, 7, dwo, 8, douto, o + 2, xo, o, wo, o + 1, meano, 5, rstdo, 6, N, C, false);
        assertArrayEquals(out, java.util.Arrays.copyOfRange(outo, 4, 4 + N * C));
        assertArrayEquals(rstd, java.util.Arrays.copyOfRange(rstdo, 6, 6 + N));
        assertArrayEquals(dx, java.util.Arrays.copyOfRange(dxo, 7, 7 + N * C));
        assertArrayEquals(dw, java.util.Arrays.copyOfRange(dwo, 8, 8 + C));
    }

    static float[] shift(float[] a, int off) {
        float[] b = new float[a.length + off];
        System.arraycopy(a, 0, b, off, a.length);
        return b;
    }

    @Test
    void backwardMatchesScalarAndAccumulates() {
        Random rng = new Random(3);
        for (boolean centred : new boolean[] {true, false})
            for (int N : new int[] {1, 7, 37, 101})
                for (int C : CS) {
                    float[] x = randn(rng, N * C), w = randn(rng, C), dout = randn(rng, N * C);
                    float[] out = new float[N * C], mean = new float[N], rstd = new float[N];
                    fwd(Parallel.SERIAL, centred, out, mean, rstd, x, w, N, C);
                    float[] dx0 = randn(rng, N * C), dw0 = randn(rng, C);
                    float[] dx = dx0.clone(), dw = dw0.clone(), dxAcc = dx0.clone();
                    bwd(Parallel.SERIAL, centred, dx, dw, dout, x, w, mean, rstd, N, C, false);
                    bwd(Parallel.SERIAL, centred, dxAcc, new float[C], dout, x, w, mean, rstd, N, C, true);
                    double[][] ref = ScalarOps.normBackward(centred, dout, x, w, N, C, EPS);
                    double[] dwRef = ref[1].clone(), dxAccRef = ref[0].clone();
                    for (int c = 0; c < C; c++) dwRef[c] += dw0[c];
                    for (int i = 0; i < N * C; i++) dxAccRef[i] += dx0[i];
                    String what = (centred ? "layernorm" : "rmsnorm") + " N=" + N + " C=" + C;
                    // C = 1 LayerNorm: x - mean is pure rounding noise amplified by rstd = 1/sqrt(eps)
                    double atol = centred && C == 1 ? 1e-2 : 1e-4;
                    assertClose(ref[0], dx, 1e-3, atol, what + " dinp");
                    assertClose(dxAccRef, dxAcc, 1e-3, atol, what + " dinp accumulated");
                    assertClose(dwRef, dw, 1e-3, 1e-3, what + " dweight accumulated");
                }
    }

    @Test
    void backwardMatchesFiniteDifferences() {
        Random rng = new Random(4);
        for (boolean centred : new boolean[] {true, false})
            for (int[] shape : new int[][] {{3, 17}, {2, 40}, {1, 3}}) {
                int N = shape[0], C = shape[1];
                float[] x = randn(rng, N * C), w = randn(rng, C), g = randn(rng, N * C);
                for (int c = 0; c < C; c++) w[c] += 1f;
                float[] out = new float[N * C], mean = new float[N], rstd = new float[N];
                java.util.function.DoubleSupplier loss = () -> {
                    fwd(Parallel.SERIAL, centred, out, mean, rstd, x, w, N, C);
                    return dot(out, g);
                };
                loss.getAsDouble();
                float[] dx = new float[N * C], dw = new float[C];
                bwd(Parallel.SERIAL, centred, dx, dw, g, x, w, mean, rstd, N, C, false);
                float[] fdx = new float[N * C], fdw = new float[C], gotx = new float[N * C], gotw = new float[C];
                for (int k = 0; k < 12; k++) {
                    int i = rng.nextInt(N * C), c = rng.nextInt(C);
                    fdx[i] = (float) centralDifference(x, i, 1e-2, loss);
                    gotx[i] = dx[i];
                    fdw[c] = (float) centralDifference(w, c, 1e-2, loss);
                    gotw[c] = dw[c];
                }
                String what = (centred ? "layernorm" : "rmsnorm") + " N=" + N + " C=" + C;
                assertClose(fdx, gotx, 2e-2, 2e-3, what + " dinp vs finite differences");
                assertClose(fdw, gotw, 2e-2, 2e-3, what + " dweight vs finite differences");
            }
    }

    @Test
    void inPlaceBackwardEqualsSeparateBuffers() {
        Random rng = new Random(5);
        int N = 9, C = 37;
        float[] x = randn(rng, N * C), w = randn(rng, C), dout = randn(rng, N * C);
        float[] out = new float[N * C], mean = new float[N], rstd = new float[N];
        fwd(Parallel.SERIAL, true, out, mean, rstd, x, w, N, C);
        float[] dx = new float[N * C], dw = new float[C], dwIn = new float[C], inPlace = dout.clone();
        bwd(Parallel.SERIAL, true, dx, dw, dout, x, w, mean, rstd, N, C, false);
        bwd(Parallel.SERIAL, true, inPlace, dwIn, inPlace, x, w, mean, rstd, N, C, false);
        assertArrayEquals(dx, inPlace);
        assertArrayEquals(dw, dwIn);
    }

    @Test
    void bitwiseIdenticalForEveryWidth() {
        Random rng = new Random(6);
        // 300 rows: ten row chunks; C = 2053: the channel reduction is split across threads too.
        for (int[] shape : new int[][] {{300, 100}, {70, 2053}, {1, 33}})
            for (boolean centred : new boolean[] {true, false}) {
                int N = shape[0], C = shape[1];
                float[] x = randn(rng, N * C), w = randn(rng, C), dout = randn(rng, N * C), dw0 = randn(rng, C);
                float[][] ref = null;
                for (Parallel par : new Parallel[] {Parallel.SERIAL, p2, p3}) {
                    float[] out = new float[N * C], mean = new float[N], rstd = new float[N];
                    float[] dx = new float[N * C], dw = dw0.clone();
                    fwd(par, centred, out, mean, rstd, x, w, N, C);
                    bwd(par, centred, dx, dw, dout, x, w, mean, rstd, N, C, false);
                    float[][] got = {out, mean, rstd, dx, dw};
                    if (ref == null) ref = got;
                    else for (int k = 0; k < got.length; k++)
                        assertArrayEquals(ref[k], got[k], "width " + par.width() + " output " + k);
                }
            }
    }

    @Test
    void scratchIsReusedAfterFirstUse() {
        Random rng = new Random(7);
        int N = 64, C = 24;
        float[] x = randn(rng, N * C), w = randn(rng, C), dout = randn(rng, N * C);
        float[] out = new float[N * C], mean = new float[N], rstd = new float[N], dx = new float[N * C];
        fwd(Parallel.SERIAL, true, out, mean, rstd, x, w, N, C);
        float[] dw1 = new float[C], dw2 = new float[C];
        bwd(Parallel.SERIAL, true, dx, dw1, dout, x, w, mean, rstd, N, C, false);
        // a bigger call in between must not leave stale partials for a smaller one
        float[] big = randn(rng, 200 * C);
        float[] bm = new float[200], br = new float[200];
        fwd(Parallel.SERIAL, true, new float[200 * C], bm, br, big, w, 200, C);
        bwd(Parallel.SERIAL, true, new float[200 * C], new float[C], randn(rng, 200 * C), big, w, bm, br, 200, C, false);
        bwd(Parallel.SERIAL, true, dx, dw2, dout, x, w, mean, rstd, N, C, false);
        assertArrayEquals(dw1, dw2);
    }
}
