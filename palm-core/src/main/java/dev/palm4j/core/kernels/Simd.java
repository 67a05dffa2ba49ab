package dev.palm4j.core.kernels;

import dev.palm4j.core.InputException;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * The one float vector species every kernel uses.
 *
 * <p>It is fixed when the class loads: the widest shape the CPU supports (512-bit with AVX-512,
 * 256-bit with AVX2), or the width named by the system property {@code palm4j.vector.bits}
 * (64, 128, 256 or 512). It is never chosen by timing, so a run gives the same bits every time
 * on the same machine and settings; the width is recorded with every run.
 */
public final class Simd {
    private Simd() {}

    /** System property that overrides the default vector width, in bits. */
    public static final String WIDTH_PROPERTY = "palm4j.vector.bits";

    public static final VectorSpecies<Float> F = pick(System.getProperty(WIDTH_PROPERTY));

    /** Floats per vector. */
    public static final int LANES = F.length();

    // Butterfly shuffles for sum(): step k pairs lane i with lane i ^ (LANES >> (k + 1)).
    private static final VectorShuffle<Float> SWAP_1 = swap(LANES / 2), SWAP_2 = swap(LANES / 4),
            SWAP_3 = swap(LANES / 8), SWAP_4 = swap(LANES / 16);

    private static VectorShuffle<Float> swap(int step) {
        return step < 1 ? null : VectorShuffle.fromOp(F, i -> i ^ step);
    }

    static { // every kernel loads this class before its first vector operation
        JitHints.install();
        JitHints.warmOperatorProfiles();
    }

    /**
     * Sum of the lanes in one fixed order (a butterfly tree), the same in the interpreter and in
     * every JIT tier. {@code reduceLanes(ADD)} is not: on JDK 25 C2 reassociates it while the
     * interpreter adds lanes in sequence, which would make a resumed run differ from one that
     * never stopped. Use this for every float horizontal sum.
     */
    public static float sum(FloatVector v) {
        if (LANES >= 2) v = v.add(v.rearrange(SWAP_1));
        if (LANES >= 4) v = v.add(v.rearrange(SWAP_2));
        if (LANES >= 8) v = v.add(v.rearrange(SWAP_3));
        if (LANES >= 16) v = v.add(v.rearrange(SWAP_4));
        return v.lane(0);
    }

    /**
     * Whether the compiler directive that forces the kernels' vector helpers inline reached this
     * JVM's JIT ({@code JitHints}); without it some runs box vectors and run several kernels
     * 4x slower. Benchmarks and run.json record it.
     */
    public static boolean jitHintsInstalled() {
        return JitHints.installed();
    }

    /** Vector width in bits. */
    public static int bits() {
        return F.vectorBitSize();
    }

    static VectorSpecies<Float> pick(String bits) {
        if (bits == null || bits.isBlank()) return FloatVector.SPECIES_PREFERRED;
        return switch (bits.trim()) {
            case "64" -> FloatVector.SPECIES_64;
            case "128" -> FloatVector.SPECIES_128;
            case "256" -> FloatVector.SPECIES_256;
            case "512" -> FloatVector.SPECIES_512;
            default -> throw new InputException("-D" + WIDTH_PROPERTY + "=" + bits + " is not a vector width",
                    "use 64, 128, 256 or 512, or leave it unset for the CPU's widest");
        };
    }

    /** The widest float shape this CPU runs natively, for reports. */
    public static int preferredBits() {
        return VectorShape.preferredShape().vectorBitSize();
    }
}
