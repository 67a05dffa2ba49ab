package dev.palm4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.palm4j.core.io.Json;
import dev.palm4j.train.parallel.MpiCommunicator;
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code mpirun -np 2 palm train ... --set parallel.backend=mpi} end to end (the palm command's
 * main, each rank a child JVM): exit 0, one process reports (the plan, the steps, "done"), the run
 * directory holds every step once. Skipped without Open MPI, unless PALM4J_REQUIRE_MPI=1 (CI).
 */
class MpiTrainCommandTest {
    @Test
    void twoProcessesTrainTinyAndProcessZeroAloneReports(@TempDir Path dir) throws Exception {
        String mpirun = null;
        for (String d : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator))
            if (!d.isBlank() && Files.isExecutable(Path.of(d, "mpirun"))) mpirun = Path.of(d, "mpirun").toString();
        String missing = mpirun == null ? "mpirun is not on the PATH" : MpiCommunicator.libraryAvailable() ? null : "libmpi cannot be loaded";
        if (missing != null && "1".equals(System.getenv("PALM4J_REQUIRE_MPI")))
            throw new AssertionError(missing + ": install Open MPI (apt-get install openmpi-bin libopenmpi-dev)");
        assumeTrue(missing == null, missing + ": this test needs Open MPI (apt-get install openmpi-bin libopenmpi-dev)");

        Path run = dir.resolve("run"), log = dir.resolve("mpirun.log");
        // by name, not path: mpirun given as /bin/mpirun takes "/" for its installation prefix
        List<String> cmd = new ArrayList<>(List.of("mpirun", "--allow-run-as-root", "--oversubscribe", "--mca", "btl", "self,vader",
                "--mca", "btl_vader_single_copy_mechanism", "none", "-np", "2",
                ProcessHandle.current().info().command().orElse("java"), "--add-modules", "jdk.incubator.vector",
                "-cp", System.getProperty("java.class.path"), Main.class.getName(),
                "train", "--config", Path.of("../configs/tiny.yaml").toAbsolutePath().toString(), "--run-dir", run.toString(),
                "--steps", "4", "--peak-gflops", "100", "--set", "parallel.data=2", "--set", "parallel.backend=mpi",
                "--set", "data.cache_dir=" + dir.resolve("cache"), "--set", "schedule.warmup_steps=1",
                "--set", "train.log_interval=1", "--set", "train.sample_interval=0"));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        boolean ended = p.waitFor(120, TimeUnit.SECONDS);
        if (!ended) p.descendants().forEach(ProcessHandle::destroyForcibly);
        String out = Files.readString(log, StandardCharsets.UTF_8);
        assertTrue(ended, "mpirun ended: " + out);
        assertEquals(0, p.exitValue(), out);
        assertEquals(1, count(out, "palm: model "), "the plan once:\n" + out);
        assertEquals(1, count(out, "step      4/4 |"), "each step once:\n" + out);
        assertEquals(1, count(out, "palm: done: step 4"), out);
        assertTrue(out.contains("one process per data rank (MPI)"), out);
        long steps = Files.readAllLines(run.resolve("metrics.jsonl")).stream()
                .map(l -> (Map<?, ?>) Json.parse(l)).filter(m -> !m.containsKey("event")).count();
        assertEquals(4, steps, "metrics.jsonl holds every step once");
        assertTrue(Files.isDirectory(run.resolve("checkpoints/step-00000004")));
    }

    private static int count(String text, String what) {
        return text.split(java.util.regex.Pattern.quote(what), -1).length - 1;
    }
}
