package dev.palm4j.train.parallel;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Runs Java mains under {@code mpirun} for the MPI tests: each rank is a child JVM with this
 * JVM's classpath and the Vector API module, as {@code KillResumeTest} starts its children. When
 * Open MPI is missing the tests are skipped with an assumption naming what to install; with
 * {@code PALM4J_REQUIRE_MPI=1} (set by .ci/run) they fail instead, so CI never skips them.
 */
public final class Mpirun {
    private Mpirun() {}

    /** What one mpirun launch printed and how it ended. */
    public record Result(int exitCode, String output) {}

    static final String INSTALL = "Open MPI (apt-get install openmpi-bin libopenmpi-dev)";

    /** Whether mpirun and libmpi are here. */
    public static boolean available() {
        return missing() == null;
    }

    private static String missing() {
        if (mpirun() == null) return "mpirun is not on the PATH";
        if (!MpiCommunicator.libraryAvailable()) return "libmpi.so.40 cannot be loaded";
        return null;
    }

    /**
     * Skips the calling test when mpirun or libmpi is missing (fails instead under
     * PALM4J_REQUIRE_MPI=1). Call it per test (@BeforeEach), so each is reported skipped with the reason.
     */
    public static void assumeAvailable() {
        String missing = missing();
        if (missing == null) return;
        if ("1".equals(System.getenv("PALM4J_REQUIRE_MPI")))
            throw new AssertionError(missing + ": the MPI tests need " + INSTALL + " (PALM4J_REQUIRE_MPI=1 forbids skipping them)");
        assumeTrue(false, missing + ": the MPI tests need " + INSTALL);
    }

    static String mpirun() {
        String path = System.getenv("PATH");
        if (path == null) return null;
        for (String d : path.split(File.pathSeparator)) {
            Path p = Path.of(d, "mpirun");
            if (!d.isBlank() && Files.isExecutable(p)) return p.toString();
        }
        return null;
    }

    /**
     * {@code mpirun -np ranks java ... mainClass args}: waits at most {@code timeoutSeconds} and
     * returns the exit code and the ranks' output (stdout and stderr together). Every rank gets
     * the same arguments.
     */
    public static Result run(int ranks, Path log, long timeoutSeconds, Class<?> mainClass, String... args) throws Exception {
        return runMpmd(log, timeoutSeconds, List.of(app(ranks, mainClass, List.of(args))));
    }

    /** The command of one application context: {@code -np ranks java ... mainClass args}. */
    public static List<String> app(int ranks, Class<?> mainClass, List<String> args) {
        List<String> cmd = new ArrayList<>(List.of("-np", Integer.toString(ranks), java(), "--add-modules", "jdk.incubator.vector",
                "-XX:+UseParallelGC", "-cp", System.getProperty("java.class.path"), mainClass.getName()));
        cmd.addAll(args);
        return cmd;
    }

    /** mpirun with several application contexts joined by ':' (MPMD: each its own arguments). */
    public static Result runMpmd(Path log, long timeoutSeconds, List<List<String>> apps) throws Exception {
        // by name, not path: mpirun given as /bin/mpirun takes "/" for its installation prefix
        List<String> cmd = new ArrayList<>(List.of("mpirun", "--allow-run-as-root", "--oversubscribe",
                // shared memory only (no network probing), and no single-copy mechanism: CMA needs
                // ptrace rights that containers often withhold
                "--mca", "btl", "self,vader", "--mca", "btl_vader_single_copy_mechanism", "none"));
        for (int i = 0; i < apps.size(); i++) {
            if (i > 0) cmd.add(":");
            cmd.addAll(apps.get(i));
        }
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
        // the environment ./palm sets under mpirun: no page-fault cliff for large messages
        pb.environment().put("MALLOC_ARENA_MAX", "1");
        pb.environment().put("MALLOC_MMAP_THRESHOLD_", "67108864");
        pb.environment().put("MALLOC_TRIM_THRESHOLD_", "67108864");
        Process p = pb.start();
        if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            throw new AssertionError("mpirun did not finish in " + timeoutSeconds + " s: " + read(log));
        }
        return new Result(p.exitValue(), read(log));
    }

    private static String java() {
        return ProcessHandle.current().info().command().orElse("java");
    }

    static String read(Path log) throws IOException {
        return Files.exists(log) ? Files.readString(log, StandardCharsets.UTF_8) : "";
    }
}
