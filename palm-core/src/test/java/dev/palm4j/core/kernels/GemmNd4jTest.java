package dev.palm4j.core.kernels;

import static dev.palm4j.core.kernels.TestArrays.assertClose;
import static dev.palm4j.core.kernels.TestArrays.randn;

import java.util.Random;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/** Our GEMM against ND4J's (OpenBLAS) on random inputs: an independent oracle, test scope only. */
class GemmNd4jTest {
    @Test
    void agreesWithNd4jInAllFourTransposeForms() {
        Random rng = new Random(42);
        Parallel par = Parallel.of(2);
        try {
            int[][] shapes = {{64, 48, 80}, {129, 67, 255}, {300, 512, 96}, {1, 300, 77}};
            for (int[] s : shapes) {
                int m = s[0], n = s[1], k = s[2];
                for (boolean ta : new boolean[] {false, true}) {
                    for (boolean tb : new boolean[] {false, true}) {
                        float[] a = randn(rng, m * k), b = randn(rng, k * n);
                        INDArray na = Nd4j.create(a, ta ? new long[] {k, m} : new long[] {m, k}, 'c');
                        INDArray nb = Nd4j.create(b, tb ? new long[] {n, k} : new long[] {k, n}, 'c');
                        INDArray nc = Nd4j.gemm(na.castTo(DataType.FLOAT), nb.castTo(DataType.FLOAT), ta, tb);
                        float[] want = nc.dup('c').data().asFloat();
                        float[] got = new float[m * n];
                        Gemm.gemm(par, ta, tb, m, n, k, a, 0, ta ? m : k, b, 0, tb ? k : n, got, 0, n, false);
                        double tol = 3e-6 * Math.sqrt(k);
                        assertClose(want, got, tol, tol * 4, "vs ND4J " + m + "x" + n + "x" + k + " ta=" + ta + " tb=" + tb);
                    }
                }
            }
        } finally {
            par.close();
        }
    }
}
