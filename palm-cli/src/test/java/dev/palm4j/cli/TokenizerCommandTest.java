package dev.palm4j.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
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

/** palm tokenizer train | encode | decode and palm prepare, end to end through the CLI. */
class TokenizerCommandTest {
    @TempDir Path dir;

    record Run(int code, byte[] stdout, String stderr) {}

    private static Run run(byte[] stdin, String... args) {
        InputStream in = System.in;
        PrintStream out = System.out;
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        StringWriter err = new StringWriter();
        try {
            System.setIn(new ByteArrayInputStream(stdin));
            System.setOut(new PrintStream(bytes, true));
            CommandLine cl = Main.newCommandLine();
            cl.setErr(new PrintWriter(err));
            int code = Main.execute(cl, args);
            return new Run(code, bytes.toByteArray(), err.toString());
        } finally {
            System.setIn(in);
            System.setOut(out);
        }
    }

    @Test
    void trainEncodeDecodeRoundTripsBytesAndPrepareWritesShards() throws Exception {
        Path text = dir.resolve("docs");
        Files.createDirectories(text);
        for (int d = 0; d < 4; d++)
            Files.writeString(text.resolve("doc" + d + ".txt"), "the quick brown fox jumps over the lazy dog " .repeat(20 + d) + d);
        Path tok = dir.resolve("tok.json");
        Run train = run(new byte[0], "tokenizer", "train", "--input", text.toString(), "--vocab-size", "300", "--out", tok.toString());
        assertEquals(0, train.code(), train.stderr());
        assertTrue(Files.exists(tok));

        byte[] input = "the lazy fox 2024\n\t \u00e9\u4e2d".getBytes(StandardCharsets.UTF_8);
        byte[] withBadUtf8 = new byte[input.length + 2];
        System.arraycopy(input, 0, withBadUtf8, 0, input.length);
        withBadUtf8[input.length] = (byte) 0xff;
        withBadUtf8[input.length + 1] = (byte) 0xc3;
        Run enc = run(withBadUtf8, "tokenizer", "encode", "--tokenizer", tok.toString());
        assertEquals(0, enc.code(), enc.stderr());
        String ids = new String(enc.stdout(), StandardCharsets.US_ASCII);
        assertTrue(ids.trim().matches("\\d+( \\d+)*"), ids);
        Run dec = run(enc.stdout(), "tokenizer", "decode", "--tokenizer", tok.toString());
        assertEquals(0, dec.code(), dec.stderr());
        assertArrayEquals(withBadUtf8, dec.stdout());

        Path shards = dir.resolve("shards");
        Run prep = run(new byte[0], "prepare", "--input", text.toString(), "--tokenizer", tok.toString(), "--out", shards.toString());
        assertEquals(0, prep.code(), prep.stderr());
        assertTrue(Files.exists(shards.resolve("dataset.json")));
    }

    @Test
    void badInputsExitTwoWithOneLine() throws Exception {
        Path notTok = dir.resolve("x.json");
        Files.writeString(notTok, "{\"hello\": 1}");
        Run r = run(new byte[0], "tokenizer", "encode", "--tokenizer", notTok.toString());
        assertEquals(2, r.code());
        assertTrue(r.stderr().startsWith("palm: error: "), r.stderr());
        Path tok = dir.resolve("t.json");
        Files.writeString(dir.resolve("a.txt"), "abc abc abc");
        assertEquals(0, run(new byte[0], "tokenizer", "train", "--input", dir.resolve("a.txt").toString(),
                "--vocab-size", "260", "--out", tok.toString()).code());
        Run bad = run("12 x7".getBytes(StandardCharsets.US_ASCII), "tokenizer", "decode", "--tokenizer", tok.toString());
        assertEquals(2, bad.code());
        assertTrue(bad.stderr().contains("'x7'"), bad.stderr());
        Run missing = run(new byte[0], "prepare", "--input", dir.resolve("nope").toString(), "--tokenizer", tok.toString(),
                "--out", dir.resolve("o").toString());
        assertEquals(2, missing.code(), missing.stderr());
    }
}
