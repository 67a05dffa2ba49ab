package dev.palm4j.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.palm4j.core.kernels.Parallel;
import dev.palm4j.train.checkpoint.Checkpoints;
import dev.palm4j.train.data.DataCache;
import dev.palm4j.train.data.SyntheticCorpus;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * kill -9 during checkpoint writes and at random moments after them, resume, again and again:
 * the final weights equal an uninterrupted run's bit for bit, so no half-written checkpoint was
 * ever loaded. The checkpoint writer is slowed with its test-only delay so that kills can land
 * inside a write; half of them are made to.
 */
class KillResumeTest {
    static final int STEPS = 100, KILLS = 10; // enough steps that the tenth kill still finds the run going

    @Test
    void killedAndResumedRunsEndWithTheWeightsOfAnUninterruptedOne(@TempDir Path dir) throws Exception {
        Path corpus = SyntheticCorpus.ensure(dir.resolve("synthetic")), cache = dir.resolve("cache");
        try (Parallel par = Parallel.of(2)) { // prepare once, so no kill lands in data preparation
            DataCache.ensure(new DataCache.Spec(corpus.toString(), 320, List.of(), 0.2, 0), cache, par, m -> {});
        }
        float[] expected;
        try (Trainer t = new Trainer(CrashChild.config(corpus, cache, STEPS),
                new Trainer.Options(dir.resolve("whole"), false, null, 100, "t"), null)) {
            t.run();
            expected = t.model().params().clone();
        }

        Path run = dir.resolve("killed");
        Random rng = new Random(7);
        int midWrite = 0, kills = 0;
        for (int kill = 0; kill < KILLS; kill++) {
            Process p = child(run, corpus, cache, "20");
            // Wait for this child's next checkpoint write to begin (the first steps run slowly,
            // before the JIT compiles the kernels), then kill it at once or a little later.
            long deadline = System.nanoTime() + 60_000_000_000L;
            while (p.isAlive() && !hasTempCheckpoint(run) && System.nanoTime() < deadline) Thread.sleep(2);
            if (kill % 2 == 1) Thread.sleep(rng.nextInt(400));
            if (!p.isAlive()) break; // finished: nothing left to kill
            p.destroyForcibly().waitFor(30, TimeUnit.SECONDS); // SIGKILL: no shutdown hook runs
            kills++;
            if (hasTempCheckpoint(run)) midWrite++;
        }
        Process last = child(run, corpus, cache, "0");
        assertTrue(last.waitFor(120, TimeUnit.SECONDS), "the final resume finishes");
        assertEquals(0, last.exitValue(), () -> readLog(run));
        assertEquals(KILLS, kills, "every kill should hit a running training: " + readLog(run));
        assertTrue(midWrite > 0, "at least one of the " + kills + " kills should land while a checkpoint is written");
        float[] got = Checkpoints.loadModel(run).checkpoint().params();
        assertArrayEquals(expected, got, "weights after " + KILLS + " kills and resumes");
    }

    private static Process child(Path run, Path corpus, Path cache, String delayMs) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(
                ProcessHandle.current().info().command().orElse("java"), "--add-modules", "jdk.incubator.vector",
                "-D" + Checkpoints.DELAY_PROPERTY + "=" + delayMs, "-cp", System.getProperty("java.class.path"),
                CrashChild.class.getName(), run.toString(), corpus.toString(), cache.toString(), Integer.toString(STEPS)));
        return new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(run.resolveSibling("child.log").toFile())).start();
    }

    private static String readLog(Path run) {
        try {
            return Files.readString(run.resolveSibling("child.log"));
        } catch (java.io.IOException e) {
            return "(no child log)";
        }
    }

    private static boolean hasTempCheckpoint(Path run) throws Exception {
        Path dir = run.resolve("checkpoints");
        if (!Files.isDirectory(dir)) return false;
        try (Stream<Path> s = Files.list(dir)) {
            return s.anyMatch(p -> p.getFileName().toString().startsWith(".tmp-"));
        }
    }
}
