package dev.palm4j.core.kernels;

import static dev.palm4j.core.kernels.TestArrays.assertClose;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

class AttentionTest {

    /** One attention problem; arrays live at offset OFF inside NaN guards. */
    record Shape(int B, int Tq, int Tk, int kvCap, int qPos0, int Hq, int Hkv, int D) {
        static Shape train(int B, int T, int Hq, int Hkv, int D) {
            return new Shape(B, T, T, T, 0, Hq, Hkv, D);
        }

        int qLen() { return B * Tq * Hq * D; }
        int kvLen() { return B * kvCap * Hkv * D; }
        int lseLen() { return B * Hq * Tq; }
        float scale() { return (float) (1 / Math.sqrt(D)); }

        boolean kvRowUsed(int i) { // element i of a (B,kvCap,Hkv,D) tensor lies in rows [0,Tk)
            return i / (Hkv * D) % kvCap < Tk;
        }
    }

    static final int OFF = 5, GUARD = 3;
    static final float UNUSED = 12345f; // marks kv rows >= Tk in dk, dv: the kernel must not write them

    static final Parallel P2 = Parallel.of(2), P3 = Parallel.of(3);

    @AfterAll
    static void close() {
        P2.close();
        P3.close();
    }

    /** Random inputs; k, v rows beyond Tk are NaN so reading them would poison the result. */
    static final class Inputs {
        final Shape s;
        final float[] q, k, v, dout;

        Inputs(Shape s, long seed, double qScale) {
            this.s = s;
            Random rng = new Random(seed);
            q = TestArrays.randn(rng, s.qLen(), qScale);
            k = TestArrays.randn(rng, s.kvLen());
            v = TestArrays.randn(rng, s.kvLen());
            dout = TestArrays.randn(rng, s.qLen());
            for (int i = 0; i < k.length; i++) if (!s.kvRowUsed(i)) k[i] = v[i] = Float.NaN;
        }
    }

    static float[] embed(float[] x) {
        float[] a = new float[OFF + x.length + GUARD];
        Arrays.fill(a, Float.NaN);
        System.arraycopy(x, 0, a, OFF, x.length);
        return a;
    }

    static float[] guarded(int n, float fill) {
        float[] a = new float[OFF + n + GUARD];
        Arrays.fill(a, Float.NaN);
        Arrays.fill(a, OFF, OFF + n, fill);
        return a;
    }

    static float[] strip(float[] a, int n) {
        for (int i = 0; i < OFF; i++) assertTrue(Float.isNaN(a[i]), "guard before data overwritten");
        for (int i = OFF + n; i < a.length; i++) assertTrue(Float.isNaN(a[i]), "guard after data overwritten");
        return Arrays.copyOfRange(a, OFF, OFF + n);
    }

    record Result(float[] out, float[] lse, float[] dq, float[] dk, float[] dv) {}

    static Result run(Parallel par, Inputs in) {
        Shape s = in.s;
        float[] q = embed(in.q), k = embed(in.k), v = embed(in.v), dout = embed(in.dout);
        float[] out = guarded(s.qLen(), Float.NaN), lse = guarded(s.lseLen(), Float.NaN);
        Attention.forward(par, out, OFF, lse, OFF, q, OFF, k, OFF, v, OFF,
                s.B, s.Tq, s.Tk, s.kvCap, s.qPos0, s.Hq, s.Hkv, s.D, s.scale());
        float[] dq = guarded(s.qLen(), Float.NaN), dk = guarded(s.kvLen(), 0f), dv = guarded(s.kvLen(), 0f);
        for (int i = 0; i < s.kvLen(); i++) {
            // Used rows start as NaN (overwrite, not accumulate); unused rows must stay untouched.
            dk[OFF + i] = dv[OFF + i] = s.kvRowUsed(i) ? Float.NaN : UNUSED;
        }
        Attention.backward(par, dq, OFF, dk, OFF, dv, OFF, dout, OFF, out, OFF, lse, OFF, q, OFF, k, OFF, v, OFF,
                s.B, s.Tq, s.Tk, s.kvCap, s.qPos0, s.Hq, s.Hkv, s.D, s.scale());
        return new Result(strip(out, s.qLen()), strip(lse, s.lseLen()), strip(dq, s.qLen()),
                strip(dk, s.kvLen()), strip(dv, s.kvLen()));
    }

    static double[] unusedAsSentinel(Shape s, double[] x) {
        for (int i = 0; i < x.length; i++) if (!s.kvRowUsed(i)) x[i] = UNUSED;
        return x;
    }

    static void checkAgainstReference(Shape s, long seed, double qScale) {
        Inputs in = new Inputs(s, seed, qScale);
        Result r = run(Parallel.SERIAL, in);
        var f = AttentionReference.forward(in.q, in.k, in.v, s.B, s.Tq, s.Tk, s.kvCap, s.qPos0, s.Hq, s.Hkv, s.D, s.scale());
        var g = AttentionReference.backward(in.dout, in.q, in.k, in.v, s.B, s.Tq, s.Tk, s.kvCap, s.qPos0,
                s.Hq, s.Hkv, s.D, s.scale());
        String what = s + " qScale " + qScale;
        // Float kernel vs double reference: observed errors are about a tenth of these.
        assertClose(f.out(), r.out(), 1e-5, 2e-6, "out " + what);
        assertClose(f.lse(), r.lse(), 2e-6, 2e-6, "lse " + what);
        assertClose(g.dq(), r.dq(), 1e-4, 1e-5, "dq " + what);
        assertClose(unusedAsSentinel(s, g.dk()), r.dk(), 1e-4, 1e-5, "dk " + what);
        assertClose(unusedAsSentinel(s, g.dv()), r.dv(), 1e-4, 1e-5, "dv " + what);
    }

    static final List<Shape> SHAPES = List.of(
            Shape.train(1, 1, 1, 1, 1),          // everything 1
            Shape.train(3, 7, 2, 1, 3),          // B=3, MQA, D=3
            Shape.train(1, 13, 6, 2, 8),         // GQA, G=3
            Shape.train(2, 37, 6, 3, 17),        // GQA, G=2, D=17
            Shape.train(1, 100, 8, 1, 64),       // MQA past one key tile
            Shape.train(2, 70, 4, 4, 64),        // MHA, several query tiles
            Shape.train(1, 130, 1, 1, 5),        // single head, three key tiles
            Shape.train(1, 9, 2, 1, 128),        // D=128
            Shape.train(1, 3, 80, 1, 4),         // group wider than a query tile
            new Shape(2, 5, 37, 40, 32, 6, 2, 8),     // prefill into a cache, kvCap > Tk
            new Shape(3, 1, 37, 64, 36, 8, 1, 64),    // decode, MQA
            new Shape(2, 1, 70, 71, 69, 4, 4, 17),    // decode, MHA, two key tiles
            new Shape(1, 1, 1, 4, 0, 3, 1, 7),        // first decode step
            new Shape(1, 20, 67, 80, 47, 3, 1, 17),   // prefill across a key-tile boundary
            new Shape(1, 6, 37, 37, 10, 2, 2, 3),     // queries before the end of the keys
            new Shape(2, 10, 35, 36, 30, 6, 3, 8),    // queries past the last key: j < Tk clips
            new Shape(1, 70, 120, 128, 20, 4, 1, 8),  // chunked backward, keys 90.. seen by no query
            Shape.train(4, 40, 8, 4, 8));            // B*Hkv = 16: one backward chunk, direct dk, dv

    @Test
    void matchesReference() {
        long seed = 1;
        for (Shape s : SHAPES) checkAgainstReference(s, seed++, 1.0);
    }

    @Test
    void matchesReferenceWithPeakedSoftmax() {
        // Large scores: the online max must rescale correctly when it jumps between tiles.
        checkAgainstReference(Shape.train(1, 150, 4, 2, 16), 42, 6.0);
        checkAgainstReference(new Shape(2, 3, 140, 140, 137, 6, 1, 8), 43, 10.0);
    }

    @Test
    void gradientsMatchFiniteDifferences() {
        Shape s = Shape.train(2, 6, 4, 2, 3);
        Inputs in = new Inputs(s, 7, 1.0);
        float[] G = TestArrays.randn(new Random(8), s.qLen());
        float[] out = new float[s.qLen()], lse = new float[s.lseLen()];
        java.util.function.DoubleSupplier loss = () -> {
            Attention.forward(Parallel.SERIAL, out, 0, lse, 0, in.q, 0, in.k, 0, in.v, 0,
                    s.B, s.Tq, s.Tk, s.kvCap, s.qPos0, s.Hq, s.Hkv, s.D, s.scale());
            return TestArrays.dot(out, G);
        };
        loss.getAsDouble();
        float[] dq = new float[s.qLen()], dk = new float[s.kvLen()], dv = new float[s.kvLen()];
        Attention.backward(Parallel.SERIAL, dq, 0, dk, 0, dv, 0, G, 0, out, 0, lse, 0, in.q, 0, in.k, 0, in.v, 0,
                s.B, s.Tq, s.Tk, s.kvCap, s.qPos0, s.Hq, s.Hkv, s.D, s.scale());
        // Float forward: loss rounding noise (~1e-6) over a step of 2e-2 gives up to ~1e-4 in the
        // difference, and the O(eps^2) truncation is smaller; observed errors are ~2e-5.
        Random pick = new Random(9);
        for (int n = 0; n < 25; n++) {
            int i = pick.nextInt(s.qLen()), j = pick.nextInt(s.kvLen()), l = pick.nextInt(s.kvLen());
            assertFd(dq[i], TestArrays.centralDifference(in.q, i, 1e-2, loss), "dq[" + i + "]");
            assertFd(dk[j], TestArrays.centralDifference(in.k, j, 1e-2, loss), "dk[" + j + "]");
            assertFd(dv[l], TestArrays.centralDifference(in.v, l, 1e-2, loss), "dv[" + l + "]");
        }
    }

    static void assertFd(float analytic, double fd, String what) {
        assertTrue(Math.abs(analytic - fd) <= 2e-4 + 2e-3 * Math.abs(fd),
                what + ": analytic " + analytic + " vs finite difference " + fd);
    }

    @Test
    void bitwiseIdenticalForEveryWidth() {
        for (Shape s : List.of(Shape.train(2, 150, 8, 2, 17), Shape.train(1, 200, 8, 1, 64),
                new Shape(2, 9, 100, 128, 91, 6, 3, 8))) {
            Inputs in = new Inputs(s, 11, 1.0);
            Result a = run(Parallel.SERIAL, in), b = run(P2, in), c = run(P3, in);
            for (Result x : List.of(b, c)) {
                assertArrayEquals(a.out(), x.out(), "out " + s);
                assertArrayEquals(a.lse(), x.lse(), "lse " + s);
                assertArrayEquals(a.dq(), x.dq(), "dq " + s);
                assertArrayEquals(a.dk(), x.dk(), "dk " + s);
                assertArrayEquals(a.dv(), x.dv(), "dv " + s);
            }
        }
    }

    @Test
    void futureKeysDoNotChangeEarlierOutputs() {
        Shape s = Shape.train(2, 90, 6, 2, 8);
        Inputs in = new Inputs(s, 13, 1.0);
        Result a = run(P2, in);
        int changed = 70; // change key and value 70 of both batch elements, every kv head
        for (int b = 0; b < s.B; b++)
            for (int i = 0; i < s.Hkv * s.D; i++) {
                int o = (b * s.kvCap + changed) * s.Hkv * s.D + i;
                in.k[o] += 3f;
                in.v[o] -= 5f;
            }
        Result c = run(P2, in);
        int rowLen = s.Hq * s.D;
        for (int b = 0; b < s.B; b++) {
            int from = b * s.Tq * rowLen, to = from + changed * rowLen;
            assertArrayEquals(Arrays.copyOfRange(a.out(), from, to), Arrays.copyOfRange(c.out(), from, to), "out");
            assertTrue(!Arrays.equals(Arrays.copyOfRange(a.out(), to, to + rowLen),
                    Arrays.copyOfRange(c.out(), to, to + rowLen)), "token " + changed + " must see the change");
            for (int h = 0; h < s.Hq; h++) {
                int l0 = (b * s.Hq + h) * s.Tq;
                assertArrayEquals(Arrays.copyOfRange(a.lse(), l0, l0 + changed),
                        Arrays.copyOfRange(c.lse(), l0, l0 + changed), "lse");
            }
        }
    }

    @Test
    void exp2IsAccurateAndZeroBelowRange() {
        int n = Simd.LANES;
        float[] x = new float[n], y = new float[n];
        double worst = 0;
        for (int i = 0; i < 200_000; i++) {
            float xi = -125f + 126f * i / 200_000f; // [-125, 1)
            x[i % n] = xi;
            if (i % n == n - 1) {
                Attention.exp2(jdk.incubator.vector.FloatVector.fromArray(Simd.F, x, 0)).intoArray(y, 0);
                for (int j = 0; j < n; j++) worst = Math.max(worst, Math.abs(y[j] / Math.pow(2, x[j]) - 1));
            }
        }
        assertTrue(worst < 3e-7, "exp2 relative error " + worst); // a few float ulps
        x[0] = Float.NEGATIVE_INFINITY;
        x[1 % n] = -130f;
        Attention.exp2(jdk.incubator.vector.FloatVector.fromArray(Simd.F, x, 0)).intoArray(y, 0);
        assertEquals(0f, y[0]);
        assertEquals(0f, y[1 % n]);
    }

    @Test
    void rejectsBadShapes() {
        float[] x = new float[64];
        assertThrows(IllegalArgumentException.class, () -> Attention.forward(Parallel.SERIAL,
                x, 0, x, 0, x, 0, x, 0, x, 0, 1, 2, 2, 2, 0, 3, 2, 4, 1f));   // 2 does not divide 3
        assertThrows(IllegalArgumentException.class, () -> Attention.forward(Parallel.SERIAL,
                x, 0, x, 0, x, 0, x, 0, x, 0, 1, 2, 3, 2, 0, 1, 1, 4, 1f));   // Tk > kvCapacity
        assertThrows(IllegalArgumentException.class, () -> Attention.forward(Parallel.SERIAL,
                x, 0, x, 0, x, 0, x, 0, x, 0, 1, 32, 32, 32, 0, 1, 1, 4, 1f)); // arrays too short
        assertEquals(0, Attention.roundUp(0, 8));
    }
}
