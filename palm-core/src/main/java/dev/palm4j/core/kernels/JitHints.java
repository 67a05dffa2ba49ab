package dev.palm4j.core.kernels;

import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import javax.management.ObjectName;

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

    static synchronized void install() {
        if (installed || !Boolean.parseBoolean(System.getProperty("palm4j.jit.hints", "true"))) return;
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

    /** Runs a HotSpot diagnostic command (as jcmd would) and returns its text reply. */
    static String diagnosticCommand(String operation, String... args) throws Exception {
        return String.valueOf(ManagementFactory.getPlatformMBeanServer().invoke(
                new ObjectName("com.sun.management:type=DiagnosticCommand"), operation,
                new Object[] {args}, new String[] {String[].class.getName()}));
    }
}
