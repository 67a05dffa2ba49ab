package dev.palm4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The user's path through the CLI: train a tiny model, then generate, evaluate and inspect it. */
class TrainGenerateCommandTest {
    @TempDir Path dir;

    // the same in-process runner as the refusal tests: Main with stdin, stdout and stderr captured
    private static HostileInputTest.Run run(String... args) {
        return HostileInputTest.run(args);
    }

    @Test
    void trainThenGenerateEvalAndInfo() throws Exception {
        Path config = Path.of("../configs/tiny.yaml").toAbsolutePath().normalize();
        Path runDir = dir.resolve("run"), cache = dir.resolve("cache");
        HostileInputTest.Run train = run("train", "--config", config.toString(), "--run-dir", runDir.toString(), "--steps", "30",
                "--set", "data.cache_dir=" + cache, "--set", "schedule.warmup_steps=5", "--peak-gflops", "100");
        assertEquals(0, train.code(), train.stderr());
        assertTrue(train.stderr().contains("step     30/30"), train.stderr());
        assertTrue(train.stderr().contains("palm: done: step 30"), train.stderr());
        assertTrue(Files.exists(runDir.resolve("checkpoints/latest")));

        HostileInputTest.Run again = run("train", "--config", config.toString(), "--run-dir", runDir.toString(), "--steps", "30",
                "--set", "data.cache_dir=" + cache);
        assertEquals(2, again.code(), "a non-empty run directory without --resume is refused");
        assertTrue(again.stderr().contains("--resume"), again.stderr());

        HostileInputTest.Run gen = run("generate", "--checkpoint", runDir.toString(), "--prompt", "The king", "--temperature", "0",
                "--max-tokens", "12");
        assertEquals(0, gen.code(), gen.stderr());
        assertFalse(gen.stdout().isEmpty(), "a continuation on stdout");
        assertFalse(gen.stdout().startsWith("The king"), "no prompt echo: " + gen.stdout());
        HostileInputTest.Run same = run("generate", "--checkpoint", runDir.toString(), "--prompt", "The king", "--temperature", "0",
                "--max-tokens", "12");
        assertEquals(gen.stdout(), same.stdout(), "greedy generation is deterministic");

        Path text = dir.resolve("held-out.txt");
        Files.writeString(text, "The people came unto the city. The prophet remembered the river.");
        HostileInputTest.Run eval = run("eval", "--checkpoint", runDir.toString(), "--text", text.toString());
        assertEquals(0, eval.code(), eval.stderr());
        assertTrue(eval.stdout().matches("loss \\S+ ce \\S+ perplexity \\S+\\s*"), eval.stdout());

        HostileInputTest.Run info = run("info", runDir.toString());
        assertEquals(0, info.code(), info.stderr());
        assertTrue(info.stdout().contains("parameters") && info.stdout().contains("multi-query"), info.stdout());
    }

    @Test
    void anMfuOverTheMeasuredPeakIsExplainedOnce() {
        // A peak far below what any machine does, as one measured while the CPU was busy would be.
        Path config = Path.of("../configs/tiny.yaml").toAbsolutePath().normalize();
        HostileInputTest.Run train = run("train", "--config", config.toString(), "--run-dir", dir.resolve("run").toString(),
                "--steps", "3", "--set", "data.cache_dir=" + dir.resolve("cache"), "--set", "schedule.warmup_steps=1",
                "--peak-gflops", "0.001");
        assertEquals(0, train.code(), train.stderr());
        String said = "palm: MFU over 100%: step 1 ran ";
        assertTrue(train.stderr().contains(said), train.stderr());
        assertEquals(train.stderr().indexOf("MFU over 100%"), train.stderr().lastIndexOf("MFU over 100%"), "said once: " + train.stderr());
        assertTrue(train.stderr().contains("more than the FMA peak given with --peak-gflops (0 GFLOP/s), so that figure is low;"),
                train.stderr());
    }
}
