package dev.palm4j.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** palm plot, end to end through the CLI: metrics.jsonl in, PNG files out. */
class PlotCommandTest {
    static final byte[] PNG_SIGNATURE = {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

    @TempDir Path dir;

    record Run(int code, String stderr) {}

    // The command prints the files it wrote on System.err, errors go to the picocli writer: both land here.
    private static Run run(String... args) {
        PrintStream saved = System.err;
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        StringWriter err = new StringWriter();
        try {
            System.setErr(new PrintStream(bytes, true));
            CommandLine cl = Main.newCommandLine();
            cl.setErr(new PrintWriter(err));
            int code = Main.execute(cl, args);
            return new Run(code, bytes + err.toString());
        } finally {
            System.setErr(saved);
        }
    }

    /** What palm train writes: step lines, val_loss on eval steps, event lines, nulls for a skipped step. */
    static String metrics(int steps) {
        StringBuilder sb = new StringBuilder();
        for (int k = 1; k <= steps; k++) {
            double loss = 2 + 4 * Math.exp(-k / 40.0) + 0.05 * Math.sin(k), lr = 3e-3 * Math.min(1, k / 20.0);
            sb.append(String.format(Locale.ROOT,
                    "{\"step\":%d,\"loss\":%.4f,\"ce\":%.4f,\"lr\":%.6g,\"grad_norm\":0.9,\"tokens_per_s\":%.1f,\"mfu\":0.2",
                    k, loss, loss - 0.01, lr, 20000 + 500 * Math.cos(k / 7.0)));
            if (k % 50 == 0) sb.append(String.format(Locale.ROOT, ",\"val_loss\":%.4f,\"val_ce\":%.4f", loss + 0.1, loss + 0.09));
            sb.append("}\n");
            if (k % 100 == 0) sb.append("{\"event\":\"checkpoint\",\"step\":").append(k).append(",\"dir\":\"step-x\"}\n");
        }
        sb.append("{\"event\":\"skipped_step\",\"step\":7,\"loss\":null,\"grad_norm\":null}\n");
        return sb.toString();
    }

    @Test
    void writesLossLearningRateAndThroughputPngs() throws Exception {
        Path run = dir.resolve("run");
        Files.createDirectories(run);
        // The last line is cut off, as a crash mid-write leaves it: skipped, not an error.
        Files.writeString(run.resolve("metrics.jsonl"), metrics(200) + "{\"step\":201,\"loss\":2.0");
        Run r = run("plot", run.toString());
        assertEquals(0, r.code(), r.stderr());
        for (String name : List.of("loss", "lr", "tokens_per_s")) {
            Path png = run.resolve("plots").resolve(name + ".png");
            assertTrue(r.stderr().contains(png.toString()), "prints the path: " + r.stderr());
            byte[] b = Files.readAllBytes(png);
            assertArrayEquals(PNG_SIGNATURE, Arrays.copyOf(b, 8), name);
            assertTrue(b.length > 10_000, name + " holds a drawing, not a blank: " + b.length + " bytes");
            BufferedImage img = ImageIO.read(png.toFile());
            assertEquals(PlotCommand.WIDTH, img.getWidth());
            assertEquals(PlotCommand.HEIGHT, img.getHeight());
        }
        assertTrue(r.stderr().contains("cut off"), r.stderr());
        // Plotting again (a run still training) replaces the files.
        assertEquals(0, run("plot", run.toString()).code());
    }

    @Test
    void aRunOfOneStepPlotsToo() throws Exception {
        Path run = Files.createDirectories(dir.resolve("one"));
        Files.writeString(run.resolve("metrics.jsonl"), metrics(1));
        Run r = run("plot", run.toString());
        assertEquals(0, r.code(), r.stderr());
        for (String name : List.of("loss", "lr", "tokens_per_s")) assertTrue(Files.size(run.resolve("plots/" + name + ".png")) > 1000);
    }

    @Test
    void badInputExitsTwoWithOneLine() throws Exception {
        Path noMetrics = Files.createDirectories(dir.resolve("empty-run"));
        Path empty = Files.createDirectories(dir.resolve("no-steps"));
        Files.writeString(empty.resolve("metrics.jsonl"), "{\"event\":\"resume\",\"step\":0}\n\n");
        Path garbage = Files.createDirectories(dir.resolve("garbage"));
        Files.writeString(garbage.resolve("metrics.jsonl"), "{\"step\":1,\"loss\":5}\nnot json at all\n{\"step\":2,\"loss\":4}\n");
        Path binary = Files.createDirectories(dir.resolve("binary"));
        Files.write(binary.resolve("metrics.jsonl"), new byte[] {(byte) 0xff, (byte) 0xfe, 0, '\n', '{', '}', '\n'});
        Path noStep = Files.createDirectories(dir.resolve("no-step"));
        Files.writeString(noStep.resolve("metrics.jsonl"), "{\"loss\":5}\n{\"step\":2,\"loss\":4}\n");
        String[][] cases = {
            {dir.resolve("missing").toString(), "no run directory at"},
            {noMetrics.toString(), "holds no metrics.jsonl"},
            {empty.toString(), "holds no step lines yet"},
            {garbage.toString(), "line 2 is not JSON"},
            {binary.toString(), "line 1 is not JSON"},
            {noStep.toString(), "line 1 has no step number"},
        };
        for (String[] c : cases) {
            Run r = run("plot", c[0]);
            assertEquals(2, r.code(), r.stderr());
            assertTrue(r.stderr().startsWith("palm: error: ") && r.stderr().contains(c[1]), r.stderr());
            assertEquals(1, r.stderr().lines().count(), r.stderr());
            assertTrue(Files.notExists(Path.of(c[0]).resolve("plots")), "nothing written for bad input");
        }
    }
}
