package dev.palm4j.train;

import dev.palm4j.core.InputException;
import dev.palm4j.core.io.Json;
import dev.palm4j.core.kernels.Simd;
import dev.palm4j.train.checkpoint.Checkpoints;
import dev.palm4j.train.config.RunConfig;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A run directory (DESIGN.md): {@code config.yaml} (the resolved config), {@code run.json}
 * (version, commit, JDK, vector width, threads, mesh), {@code metrics.jsonl},
 * {@code checkpoints/} and {@code plots/}. A new run never writes into a non-empty directory,
 * so nothing of an earlier run is lost; {@code --resume} continues one.
 */
final class RunDirectory {
    private RunDirectory() {}

    static final String CONFIG = "config.yaml", RUN_INFO = "run.json";

    /**
     * Makes {@code dir} ready and says whether to restore from it: a new run needs a new or empty
     * directory; {@code --resume} needs a run directory, and restores from its checkpoints, or
     * starts it again from step 0 when it was stopped before its first checkpoint.
     */
    static boolean prepare(Path dir, boolean resume) {
        try {
            if (resume) {
                if (!Checkpoints.list(dir).isEmpty()) return true;
                if (Files.exists(dir.resolve(CONFIG)) || Files.exists(dir.resolve(RUN_INFO))) return false;
                throw new InputException("--resume: " + dir + " is not a palm4j run directory (no checkpoints, no "
                        + CONFIG + ")", "start the run without --resume, or point --run-dir at the run to continue");
            }
            if (Files.isDirectory(dir)) {
                try (Stream<Path> s = Files.list(dir)) {
                    if (s.findAny().isPresent())
                        throw new InputException("run directory " + dir + " already exists and is not empty",
                                "add --resume to continue that run, or choose another --run-dir");
                }
            } else if (Files.exists(dir)) {
                throw new InputException("run directory " + dir + " is a file", "choose another --run-dir");
            }
            Files.createDirectories(dir);
            return false;
        } catch (IOException e) {
            throw new InputException("cannot create run directory " + dir + ": " + e.getMessage(), "check the path and permissions", e);
        }
    }

    static void writeConfig(Path dir, RunConfig cfg) {
        write(dir.resolve(CONFIG), cfg.toYaml());
    }

    static void writeRunInfo(Path dir, String version, int threads, double peakGflops, RunConfig cfg) {
        Map<String, Object> info = new LinkedHashMap<>();
        info.put("palm4j", version == null ? "dev" : version);
        info.put("git_commit", gitCommit());
        info.put("jdk", Runtime.version().toString());
        info.put("vector_bits", Simd.bits());
        info.put("jit_hints", Simd.jitHintsInstalled());
        info.put("threads", threads);
        info.put("mesh", Map.of("data", cfg.parallel().data(), "model", cfg.parallel().model(),
                "backend", cfg.parallel().backend().configName()));
        info.put("peak_gflops", peakGflops);
        info.put("started", Instant.now().toString());
        write(dir.resolve(RUN_INFO), Json.writePretty(info) + "\n");
    }

    private static void write(Path file, String text) {
        try {
            Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
            Files.writeString(tmp, text, StandardCharsets.UTF_8);
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file + ": " + e.getMessage(), e);
        }
    }

    /** The commit of the working directory's git checkout, or null outside one. */
    private static String gitCommit() {
        try {
            Process p = new ProcessBuilder(List.of("git", "rev-parse", "HEAD")).redirectErrorStream(true).start();
            if (!p.waitFor(2, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                return null;
            }
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
            return p.exitValue() == 0 && out.matches("[0-9a-f]{40}") ? out : null;
        } catch (IOException e) {
            return null;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return null;
        }
    }
}
