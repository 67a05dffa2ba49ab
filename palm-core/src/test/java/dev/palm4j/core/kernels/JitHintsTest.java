package dev.palm4j.core.kernels;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.lang.reflect.Method;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

class JitHintsTest {

    // Values that live in registers (species and shuffle constants are set-up, not hot values).
    private static boolean isVector(Class<?> type) {
        return jdk.incubator.vector.Vector.class.isAssignableFrom(type) || jdk.incubator.vector.VectorMask.class.isAssignableFrom(type);
    }

    @Test
    void everyMethodThatPassesVectorsIsForcedInline() throws Exception {
        File dir = new File(Simd.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        File pkg = new File(dir, Simd.class.getPackageName().replace('.', '/'));
        String[] files = pkg.list((d, name) -> name.endsWith(".class"));
        assertTrue(files != null && files.length > 10, "kernel classes not found under " + pkg);
        List<String> missing = new ArrayList<>();
        for (String file : files) {
            Class<?> c = Class.forName(Simd.class.getPackageName() + "." + file.replace(".class", ""));
            for (Method m : c.getDeclaredMethods()) {
                if (m.isSynthetic()) continue; // lambda bodies are callers, not helpers
                boolean vector = isVector(m.getReturnType()) || Stream.of(m.getParameterTypes()).anyMatch(JitHintsTest::isVector);
                String name = c.getSimpleName() + "." + m.getName();
                if (vector && !JitHints.FORCE_INLINE.contains(name)) missing.add(name);
            }
        }
        assertTrue(missing.isEmpty(), "methods taking or returning vectors, not in JitHints.FORCE_INLINE: " + missing);
    }

    @Test
    void theDirectiveReachesTheCompiler() throws Exception {
        assertTrue(Simd.LANES > 0); // loads Simd, which installs the hints
        assertTrue(JitHints.installed(), "compiler directive not installed");
        String listing = JitHints.diagnosticCommand("compilerDirectivesPrint");
        for (String method : JitHints.FORCE_INLINE)
            assertTrue(listing.contains("+dev/palm4j/core/kernels/" + method), method + " missing from " + listing);
    }

    @Test
    void theWarmUpRunsEveryOperatorTheKernelsName() throws Exception {
        // Kernels name some operators (VectorOperators.ASHR); a new one the warm-up does not run
        // could be the first of its kind to reach the Vector API's shared profiles.
        Path src = Path.of("src/main/java", Simd.class.getPackageName().replace('.', '/'));
        String warmUp = Files.readString(src.resolve("JitHints.java"));
        warmUp = warmUp.substring(warmUp.indexOf("static void warmOperatorProfiles"));
        Pattern named = Pattern.compile("VectorOperators\\.([A-Z_0-9]+)");
        List<String> missing = new ArrayList<>();
        try (Stream<Path> files = Files.list(src)) {
            for (Path file : (Iterable<Path>) files::iterator) {
                for (String line : Files.readAllLines(file)) {
                    String code = line.strip();
                    if (code.startsWith("*") || code.startsWith("/*") || code.startsWith("//")) continue;
                    Matcher m = named.matcher(code);
                    while (m.find()) if (!warmUp.contains("VectorOperators." + m.group(1))) missing.add(file.getFileName() + ": " + m.group(1));
                }
            }
        }
        assertTrue(missing.isEmpty(), "operators the kernels name but JitHints.warmOperatorProfiles does not run: " + missing);
    }
}
