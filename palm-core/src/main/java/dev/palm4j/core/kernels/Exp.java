package dev.palm4j.core.kernels;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;

/**
 * exp(x) in float, as a vector op and as its bit-identical scalar twin.
 *
 * <p>Why not {@code lanewise(VectorOperators.EXP)}: on HotSpot it is Math.exp per lane while
 * interpreted and an SVML stub once C2 compiles the loop, and the two differ in the last bit for
 * a few percent of inputs. A kernel using it would change its output when the JIT kicks in, so a
 * resumed run would not be bitwise equal to one never stopped. This version uses only
 * correctly rounded IEEE operations (fma, mul, add, integer bit tricks), so interpreter, C1, C2,
 * every vector width and the scalar tail all give the same bits; the error against Math.exp is
 * at most 2 ulp (tested), with gradual underflow down to the smallest subnormal and +inf above
 * ~88.72. NaN in gives NaN out.
 *
 * <p>Method (Cephes expf): x = n ln2 + r with |r| <= ln2/2, exp(r) by a degree-6 polynomial,
 * then times 2^n applied as two exact power-of-two factors so no intermediate overflows.
 */
public final class Exp {
    private Exp() {}

    private static final float LOG2E = 1.44269504088896341f;
    private static final float LN2_HI = 0.693359375f;      // few bits: n * LN2_HI is exact
    private static final float LN2_LO = -2.12194440e-4f;
    private static final float MAGIC = 12582912f;          // 1.5 * 2^23: adding it rounds to an integer
    private static final int MAGIC_BITS = Float.floatToRawIntBits(MAGIC);
    private static final float LO = -104f, HI = 89f;       // beyond these exp is 0 / +inf in float
    private static final float P0 = 1.9875691500e-4f, P1 = 1.3981999507e-3f, P2 = 8.3334519073e-3f,
            P3 = 4.1665795894e-2f, P4 = 1.6666665459e-1f, P5 = 5.0000001201e-1f;

    /** exp of every lane. */
    public static FloatVector exp(FloatVector x) {
        x = x.max(LO).min(HI);
        FloatVector t = x.fma(LOG2E, MAGIC);            // round(x log2 e) + MAGIC, one rounding
        FloatVector n = t.sub(MAGIC);
        FloatVector r = n.fma(x.broadcast(-LN2_HI), x);
        r = n.fma(x.broadcast(-LN2_LO), r);
        FloatVector p = r.fma(P0, P1);
        p = p.fma(r, x.broadcast(P2));
        p = p.fma(r, x.broadcast(P3));
        p = p.fma(r, x.broadcast(P4));
        p = p.fma(r, x.broadcast(P5));
        FloatVector rr = r.mul(r);
        p = p.fma(rr, r).add(1f);
        IntVector ni = t.reinterpretAsInts().sub(MAGIC_BITS);
        IntVector n1 = ni.lanewise(VectorOperators.ASHR, 1);
        IntVector n2 = ni.sub(n1);
        FloatVector s1 = n1.add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
        FloatVector s2 = n2.add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
        return p.mul(s1).mul(s2);
    }

    /** exp(x), bit-identical to one lane of {@link #exp(FloatVector)}. */
    public static float exp(float x) {
        x = Math.min(Math.max(x, LO), HI);
        float t = Math.fma(x, LOG2E, MAGIC);
        float n = t - MAGIC;
        float r = Math.fma(n, -LN2_HI, x);
        r = Math.fma(n, -LN2_LO, r);
        float p = Math.fma(Math.fma(Math.fma(Math.fma(Math.fma(r, P0, P1), r, P2), r, P3), r, P4), r, P5);
        float rr = r * r;
        p = Math.fma(p, rr, r) + 1f;
        int ni = Float.floatToRawIntBits(t) - MAGIC_BITS;
        int n1 = ni >> 1;
        int n2 = ni - n1;
        return p * Float.intBitsToFloat((n1 + 127) << 23) * Float.intBitsToFloat((n2 + 127) << 23);
    }
}
