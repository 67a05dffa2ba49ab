package dev.palm4j.core.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.palm4j.core.InputException;
import dev.palm4j.core.kernels.Parallel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class TokenizerTest {
    static List<byte[]> corpus;
    static Tokenizer tok;

    @BeforeAll
    static void train() {
        corpus = TextGen.docs(7, 20, 3000);
        tok = Tokenizer.train(corpus, new Tokenizer.TrainOptions(700, List.of("<pad>"), 2), Parallel.SERIAL);
    }

    private static void assertRoundTrip(byte[] b) {
        int[] ids = tok.encode(b);
        assertArrayEquals(b, tok.decode(ids));
        for (int id : ids) assertFalse(tok.isSpecial(id));
    }

    @Test
    void vocabularyLayout() {
        assertEquals(700, tok.vocabSize());
        assertEquals(256, tok.eodId());
        assertEquals(256, tok.specialId("<eod>"));
        assertEquals(257, tok.specialId("<pad>"));
        assertEquals(List.of("<eod>", "<pad>"), tok.specialTokens());
        assertEquals(700 - 258, tok.mergeCount());
        for (int i = 0; i < 256; i++) assertArrayEquals(new byte[] {(byte) i}, tok.tokenBytes(i));
        assertArrayEquals("<pad>".getBytes(StandardCharsets.UTF_8), tok.tokenBytes(257));
        InputException e = assertThrows(InputException.class, () -> tok.specialId("<bos>"));
        assertTrue(e.getMessage().contains("<bos>"));
    }

    @Test
    void roundTripsRandomBytes() {
        Random r = new Random(11);
        for (int t = 0; t < 2000; t++) assertRoundTrip(TextGen.randomBytes(r, r.nextInt(t < 1000 ? 16 : 2000)));
        assertRoundTrip(new byte[0]);
    }

    @Test
    void roundTripsInvalidUtf8() {
        int[][] cases = {{0x80}, {0xC0, 0x80}, {0xED, 0xA0, 0x80}, {0xF4, 0x90, 0x80, 0x80}, {0xFF, 0xFE},
            {'a', 0xE2, 0x82}, {0xE2, 0x82, ' ', 't', 'h', 'e'}, {'t', 'h', 0xC3}, {0xF0, 0x9F, 0x99, ' '}};
        for (int[] c : cases) {
            byte[] b = new byte[c.length];
            for (int i = 0; i < b.length; i++) b[i] = (byte) c[i];
            assertRoundTrip(b);
        }
        Random r = new Random(12);
        for (int t = 0; t < 300; t++) { // text with random bytes spliced in
            byte[] text = TextGen.text(r, 50).getBytes(StandardCharsets.UTF_8);
            for (int k = 0; k < 5; k++) text[r.nextInt(text.length)] = (byte) (0x80 + r.nextInt(128));
            assertRoundTrip(text);
        }
    }

    @Test
    void roundTripsWhitespaceRunsAndMixedScripts() {
        for (String ws : new String[] {" ", "\n", "\t", "\r\n", "\u00A0", "\u3000", " \n", "\n "}) {
            for (int n : new int[] {1, 2, 3, 63, 64, 65, 200}) {
                String run = ws.repeat(n);
                for (String s : new String[] {run, "the" + run + "the", run + "the", "the" + run, run + "42" + run}) {
                    assertRoundTrip(s.getBytes(StandardCharsets.UTF_8));
                }
            }
        }
        assertRoundTrip("In the beginning God — Ἐν ἀρχῇ — В начале — 太初有道 — في البدء — आदि में 🙂👍🏽 é\u0301".getBytes(StandardCharsets.UTF_8));
        Random r = new Random(13);
        for (int t = 0; t < 200; t++) assertRoundTrip(TextGen.text(r, 200).getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void digitsAreAlwaysSingleTokens() {
        // Train on text full of numbers: still no token holds a digit and anything else.
        List<byte[]> numbers = new ArrayList<>();
        Random r = new Random(14);
        for (int d = 0; d < 5; d++) {
            StringBuilder s = new StringBuilder();
            for (int i = 0; i < 2000; i++) {
                s.append(TextGen.text(r, 3)).append("year ").append(1900 + r.nextInt(30)).append(", 3.14 and 1000\n");
            }
            numbers.add(s.toString().getBytes(StandardCharsets.UTF_8));
        }
        Tokenizer t = Tokenizer.train(numbers, Tokenizer.TrainOptions.of(400), Parallel.SERIAL);
        assertTrue(t.mergeCount() > 10);
        for (int id = 0; id < t.vocabSize(); id++) {
            if (t.isSpecial(id)) continue;
            byte[] b = t.tokenBytes(id);
            for (byte x : b) if (x >= '0' && x <= '9') assertEquals(1, b.length, "token " + new String(b, StandardCharsets.UTF_8));
        }
        int[] ids = t.encode("year 2024");
        assertArrayEquals(new int[] {'2', '0', '2', '4'}, java.util.Arrays.copyOfRange(ids, ids.length - 4, ids.length));
    }

    @Test
    void specialTokenTextEncodesAsOrdinaryBytes() {
        int[] ids = tok.encode("a<eod>b");
        for (int id : ids) assertFalse(tok.isSpecial(id));
        assertEquals("<eod>", new String(tok.decode(new int[] {256}), StandardCharsets.UTF_8));
        assertEquals("x<eod>y", tok.decodeToString(new int[] {'x', 256, 'y'}));
    }

    @Test
    void trainingIsDeterministicForAnyThreadCount() {
        List<byte[]> docs = TextGen.docs(21, 30, 4000);
        docs.add(TextGen.text(new Random(22), 200_000).getBytes(StandardCharsets.UTF_8)); // one big doc, split in chunks
        Tokenizer.TrainOptions opt = Tokenizer.TrainOptions.of(1000);
        int[][] serial = Tokenizer.train(docs, opt, Parallel.SERIAL).merges();
        try (Parallel par = Parallel.of(3)) {
            assertArrayEquals(serial, Tokenizer.train(docs, opt, par).merges());
            assertArrayEquals(serial, Tokenizer.train(docs, opt, par).merges());
        }
        assertEquals(1000 - 257, serial.length);
    }

    @Test
    void mergesReduceTheTokenCount() {
        List<byte[]> docs = TextGen.docs(31, 10, 3000);
        long bytes = 0, last = Long.MAX_VALUE;
        for (byte[] d : docs) bytes += d.length;
        for (int vocab : new int[] {257, 300, 500, 1000}) {
            Tokenizer t = Tokenizer.train(docs, Tokenizer.TrainOptions.of(vocab), Parallel.SERIAL);
            long tokens = 0;
            for (byte[] d : docs) tokens += t.encode(d).length;
            if (vocab == 257) assertEquals(bytes, tokens);
            else assertTrue(tokens < last, vocab + ": " + tokens + " tokens, not fewer than " + last);
            last = tokens;
        }
        assertTrue(last < bytes / 2, "1000 tokens should more than halve this text: " + last + " of " + bytes);
    }

    @Test
    void encodeAllMatchesEncodeForAnyWidthAndChunking() {
        List<byte[]> docs = new ArrayList<>(corpus);
        docs.add(new byte[0]);
        docs.add(TextGen.randomBytes(new Random(3), 5000));
        for (int width : new int[] {1, 2, 3}) {
            try (Parallel par = Parallel.of(width)) {
                for (int chunk : new int[] {64, 1000, 1 << 20}) {
                    int[][] all = tok.encodeAll(docs, par, chunk);
                    for (int d = 0; d < docs.size(); d++) assertArrayEquals(tok.encode(docs.get(d)), all[d]);
                }
            }
        }
    }

    @Test
    void stopsEarlyWhenNoPairRepeats() {
        Tokenizer t = Tokenizer.train(List.of("abcabc xyz".getBytes(StandardCharsets.UTF_8)), Tokenizer.TrainOptions.of(5000), Parallel.SERIAL);
        assertTrue(t.vocabSize() < 270, "vocab " + t.vocabSize());
        assertArrayEquals("abcabc xyz".getBytes(StandardCharsets.UTF_8), t.decode(t.encode("abcabc xyz")));
    }

    @Test
    void badInputGivesClearErrors() {
        assertTrue(assertThrows(InputException.class, () -> Tokenizer.train(List.of(), Tokenizer.TrainOptions.of(300), Parallel.SERIAL))
                .getMessage().contains("empty"));
        assertTrue(assertThrows(InputException.class, () -> Tokenizer.train(List.of(new byte[0]), Tokenizer.TrainOptions.of(300), Parallel.SERIAL))
                .getMessage().contains("empty"));
        assertTrue(assertThrows(InputException.class, () -> Tokenizer.TrainOptions.of(200)).getMessage().contains("at least 257"));
        assertThrows(InputException.class, () -> new Tokenizer.TrainOptions(1000, List.of(""), 2));
        assertTrue(assertThrows(InputException.class, () -> tok.decode(new int[] {1, 700})).getMessage().contains("700"));
        assertThrows(InputException.class, () -> tok.decode(new int[] {-1}));
        assertEquals(List.of("<eod>", "<a>"), new Tokenizer.TrainOptions(300, List.of("<a>", "<eod>", "<a>"), 2).specialTokens());
    }
}
