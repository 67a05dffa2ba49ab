package dev.palm4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** The user's path through the CLI: train a tiny model, then generate, evaluate and inspect it. */
class TrainGenerateCommandTest {
    @TempDir Path dir;

    record Run(int code, String stdout, String stderr) {}

    private static Run run(String... args) {
        InputStream in = System.in;
        PrintStream out = System.out, err = System.err;
        ByteArrayOutputStream o = new ByteArrayOutputStream(), e = new ByteArrayOutputStream();
        StringWriter picoErr = new StringWriter();
        try {
            System.setIn(new ByteArrayInputStream(new byte[0]));
            System.setOut(new PrintStream(o, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(e, true, StandardCharsets.UTF_8));
            CommandLine cl = Main.newCommandLine();
            cl.setErr(new PrintWriter(picoErr));
            int code = Main.execute(cl, args);
            return new Run(code, o.toString(StandardCharsets.UTF_8), e.toString(StandardCharsets.UTF_8) + picoErr);
        } finally {
            System.setIn(in);
            System.setOut(out);
            System.setErr(err);
        }
    }

    @Test
    void trainThenGenerateEvalAndInfo() throws Exception {
        Path config = Path.of("../configs/tiny.yaml").toAbsolutePath().normalize();
        Path runDir = dir.resolve("run"), cache = dir.resolve("cache");
        Run train = run("train", "--config", config.toString(), "--run-dir", runDir.toString(), "--steps", "30",
                "--set", "data.cache_dir=" + cache, "--set", "schedule.warmup_steps=5", "--peak-gflops", "100");
        assertEquals(0, train.code(), train.stderr());
        assertTrue(train.stderr().contains("step     30/30"), train.stderr());
        assertTrue(train.stderr().contains("palm: done: step 30"), train.stderr());
        assertTrue(Files.exists(runDir.resolve("checkpoints/latest")));

        Run again = run("train", "--config", config.toString(), "--run-dir", runDir.toString(), "--steps", "30",
                "--set", "data.cache_dir=" + cache);
        assertEquals(2, again.code(), "a non-empty run directory without --resume is refused");
        assertTrue(again.stderr().contains("--resume"), again.stderr());

        Run gen = run("generate", "--checkpoint", runDir.toString(), "--prompt", "The king", "--temperature", "0",
                "--max-tokens", "12");
        assertEquals(0, gen.code(), gen.stderr());
        assertFalse(gen.stdout().isEmpty(), "a continuation on stdout");
        assertFalse(gen.stdout().startsWith("The king"), "no prompt echo: " + gen.stdout());
        Run same = run("generate", "--checkpoint", runDir.toString(), "--prompt", "The king", "--temperature", "0",
                "--max-tokens", "12");
        assertEquals(gen.stdout(), same.stdout(), "greedy generation is deterministic");

        Path text = dir.resolve("held-out.txt");
        Files.writeString(text, "The people came unto the city. The prophet remembered the river.");
        Run eval = run("eval", "--checkpoint", runDir.toString(), "--text", text.toString());
        assertEquals(0, eval.code(), eval.stderr());
        assertTrue(eval.stdout().matches("loss \\S+ ce \\S+ perplexity \\S+\\s*"), eval.stdout());

        Run info = run("info", runDir.toString());
        assertEquals(0, info.code(), info.stderr());
        assertTrue(info.stdout().contains("parameters") && info.stdout().contains("multi-query"), info.stdout());
    }
}
