package dev.palm4j.core.kernels;

import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import javax.management.ObjectName;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Tells HotSpot's JIT to always inline the kernels' small helpers that take or return vectors.
 *
 * <p>A {@code FloatVector} lives in registers only while every method it passes through is
 * inlined into one compiled body. C2 inlines a call of more than 35 bytecodes only where its
 * profile says the call is hot, and never into a caller once the helper has been compiled on its
 * own into more than 2500 bytes. Both depend on timing: in some runs an OSR compile or an early
 * compile of a caller keeps, say, {@link Exp#exp(jdk.incubator.vector.FloatVector)} as a call.
 * Every vector then goes through the heap: anchor M's SwiGLU and cross-entropy backward ran 4x
 * slower and the step allocated 2.4-2.6 GB, in two of three runs of one benchmark session
 * (docs/benchmarks.md).
 *
 * <p>So, once per JVM, a compiler directive (the mechanism of {@code jcmd Compiler.directives_add})
 * forces these methods inline wherever palm4j code calls them; the directive bypasses the size
 * and hotness heuristics. Every method in this package that takes or returns a vector must be
 * listed in {@link #FORCE_INLINE} (a test checks). Where the platform MBean server or the
 * diagnostic command is unavailable, nothing happens and kernels are merely slower in unlucky
 * runs. {@code -Dpalm4j.jit.hints=false} turns it off.
 *
 * <p>Inlining is not enough: the Vector API's shared code must also be profiled with every kind
 * of operator before the kernels run ({@link #warmOperatorProfiles}), which the same property
 * turns off.
 */
final class JitHints {
    private JitHints() {}

    /** Class.method of every vector-passing helper, as the directive names them (all overloads). */
    static final List<String> FORCE_INLINE = List.of(
            "Exp.exp", "SwiGlu.silu", "SwiGlu.sigmoid", "Attention.exp2", "Simd.sum");

    private static volatile boolean installed;

    /** Whether the directive was added to this JVM's compiler. */
    static boolean installed() {
        return installed;
    }

    private static boolean enabled() {
        return Boolean.parseBoolean(System.getProperty("palm4j.jit.hints", "true"));
    }

    static synchronized void install() {
        if (installed || !enabled()) return;
        String pkg = JitHints.class.getPackageName().replace('.', '/');
        StringBuilder json = new StringBuilder("[{ match: \"dev/palm4j/*.*\", inline: [");
        for (int i = 0; i < FORCE_INLINE.size(); i++)
            json.append(i == 0 ? "" : ", ").append("\"+").append(pkg).append('/').append(FORCE_INLINE.get(i)).append('"');
        json.append("] }]");
        Path file = null;
        try {
            file = Files.createTempFile("palm4j-jit", ".json");
            Files.writeString(file, json);
            installed = diagnosticCommand("compilerDirectivesAdd", file.toString()).contains("1 compiler directives added");
        } catch (Exception | LinkageError e) {
            // No management module, no such command, or no temp directory: run without the hint.
        } finally {
            if (file != null) try {
                Files.deleteIfExists(file);
            } catch (java.io.IOException ignored) {
                // a leftover 200-byte temp file is harmless
            }
        }
    }

    /** Rounds of {@link #warmOperatorProfiles}: 0.2-0.3 s once per JVM, mostly interpreted. */
    static final int WARM_ROUNDS = 1000;

    /**
     * Runs every kind of Vector API operator the kernels use, interleaved, before any kernel runs.
     *
     * <p>Every vector operation goes through the same few methods of the Vector API
     * ({@code VectorOperators.opCode} casts each operator to its implementation class, {@code
     * VectorOperators.ImplCache.find} looks up its per-operation code). If those are first
     * profiled and compiled while only one kind passes (say, only ADD-like associative
     * operators), C2 speculates on that class, and the next kind deoptimizes them: 4-5 class-check
     * traps in {@code opCode} in two anchor-M JVMs, 4 in {@code find} in a third. C2 adds an
     * inlined method's traps to the compile's total once per inlined copy, so SwiGLU's backward,
     * with 33 copies of each, counted 163-193, over the limit of 100 per compile
     * ({@code PerMethodTrapLimit}). C2 then stops trusting type profiles in that compile and keeps
     * virtual calls where it had inlined them; the vector species is no longer a constant, Vector
     * API intrinsics fail, and every vector of the kernel is boxed on the heap (anchor M's step
     * allocated 2.4-2.6 GB, SwiGLU's backward ran 3x slower; docs/benchmarks.md). Profiled from
     * the start with every kind, these methods are polymorphic and C2 speculates on nothing: six
     * JVMs with this warm-up had no class-check trap in Vector API code.
     */
    static void warmOperatorProfiles() {
        if (!enabled()) return;
        VectorSpecies<Float> f = Simd.F;
        float[] buf = new float[f.length()];
        java.util.Arrays.fill(buf, 0.5f);
        FloatVector one = FloatVector.broadcast(f, 1f);
        for (int i = 0; i < WARM_ROUNDS; i++) {
            FloatVector x = FloatVector.fromArray(f, buf, 0);
            x = x.add(one).sub(0.5f).mul(one).div(2f)                     // associative and binary
                 .neg().abs().sqrt()                                      // unary
                 .fma(one, one).fma(2f, 0.5f)                             // ternary
                 .max(0f).min(4f);
            x = x.blend(one, x.lt(one)).blend(0f, x.compare(VectorOperators.GT, 3f)); // comparison
            IntVector n = x.reinterpretAsInts().sub(1).lanewise(VectorOperators.ASHR, 1)
                    .add(127).lanewise(VectorOperators.LSHL, 1);          // int binary and shifts
            x = x.add(n.reinterpretAsFloats().min(0f));
            x = x.add(x.reduceLanes(VectorOperators.MAX) + Simd.sum(x));
            x.intoArray(buf, 0);
        }
    }

    /** Runs a HotSpot diagnostic command (as jcmd would) and returns its text reply. */
    static String diagnosticCommand(String operation, String... args) throws Exception {
        return String.valueOf(ManagementFactory.getPlatformMBeanServer().invoke(
                new ObjectName("com.sun.management:type=DiagnosticCommand"), operation,
                new Object[] {args}, new String[] {String[].class.getName()}));
    }
}
