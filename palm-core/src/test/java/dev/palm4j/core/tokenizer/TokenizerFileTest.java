package dev.palm4j.core.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.palm4j.core.InputException;
import dev.palm4j.core.kernels.Parallel;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TokenizerFileTest {
    @TempDir Path dir;

    static final Tokenizer TOK = Tokenizer.train(TextGen.docs(5, 10, 2000),
            new Tokenizer.TrainOptions(500, List.of("<pad>", "quote\"back\\slash\n\u00e9"), 2), Parallel.SERIAL);

    @Test
    void saveAndLoadRoundTrip() throws IOException {
        Path file = dir.resolve("palm-tokenizer.json");
        TOK.save(file);
        Tokenizer back = Tokenizer.load(file);
        assertEquals(TOK.vocabSize(), back.vocabSize());
        assertEquals(TOK.specialTokens(), back.specialTokens());
        assertArrayEquals(TOK.merges(), back.merges());
        Random r = new Random(1);
        for (int t = 0; t < 50; t++) {
            byte[] text = TextGen.text(r, 300).getBytes(StandardCharsets.UTF_8);
            assertArrayEquals(TOK.encode(text), back.encode(text));
        }
        back.save(dir.resolve("again.json"));
        assertEquals(Files.readString(file), Files.readString(dir.resolve("again.json")));
        String json = Files.readString(file);
        assertTrue(json.startsWith("{\n  \"format\": \"palm4j-tokenizer\",\n  \"version\": 1,"), json.substring(0, 80));
    }

    @Test
    void aTokenizerWithoutMergesRoundTrips() {
        Tokenizer bytesOnly = new Tokenizer(List.of("<eod>"), new int[0][]);
        Path file = dir.resolve("t.json");
        bytesOnly.save(file);
        assertEquals(257, Tokenizer.load(file).vocabSize());
    }

    @Test
    void theFileLayoutIsFixed() throws IOException {
        Tokenizer tok = new Tokenizer(List.of("<eod>", "q\"b\\s\n\t\u0001\u00e9"), new int[][] {{116, 104}, {257 + 1, 101}});
        Path file = dir.resolve("t.json");
        tok.save(file);
        assertEquals("""
                {
                  "format": "palm4j-tokenizer",
                  "version": 1,
                  "model": "byte-level-bpe",
                  "vocab_size": 260,
                  "special_tokens": [
                    {"id": 256, "token": "<eod>"},
                    {"id": 257, "token": "q\\"b\\\\s\\n\\t\\u0001\u00e9"}
                  ],
                  "merges": [
                    [116, 104],
                    [258, 101]
                  ]
                }
                """, Files.readString(file));
        assertEquals(tok.specialTokens(), Tokenizer.load(file).specialTokens());
    }

    private String valid() {
        return """
                {"format": "palm4j-tokenizer", "version": 1, "model": "byte-level-bpe", "vocab_size": 259,
                 "special_tokens": [{"id": 256, "token": "<eod>"}], "merges": [[116, 104], [257, 101]]}""";
    }

    private void assertBad(String content, String... expected) throws IOException {
        assertBad(content.getBytes(StandardCharsets.UTF_8), expected);
    }

    private void assertBad(byte[] content, String... expected) throws IOException {
        Path file = dir.resolve("bad.json");
        Files.write(file, content);
        InputException e = assertThrows(InputException.class, () -> Tokenizer.load(file));
        assertTrue(e.getMessage().contains(file.toString()), e.getMessage());
        for (String x : expected) assertTrue(e.getMessage().contains(x), "'" + e.getMessage() + "' lacks '" + x + "'");
    }

    @Test
    void rejectsFilesThatAreNotTokenizers() throws IOException {
        Path ok = dir.resolve("ok.json");
        Files.writeString(ok, valid());
        assertEquals(259, Tokenizer.load(ok).vocabSize());
        assertEquals("the", Tokenizer.load(ok).decodeToString(new int[] {258}));

        assertBad(TextGen.randomBytes(new Random(1), 1000), "not a palm4j tokenizer file");
        assertBad(new byte[] {(byte) 0x89, 'P', 'N', 'G'}, "not a palm4j tokenizer file");
        assertBad("", "not a palm4j tokenizer file");
        assertBad("hello", "not a palm4j tokenizer file");
        assertBad("[1, 2]", "not a palm4j tokenizer file");
        assertBad("{\"model\": {\"type\": \"BPE\"}, \"version\": \"1.0\"}", "not a palm4j tokenizer file", "\"format\"");
        assertBad(valid().substring(0, valid().length() / 2), "not valid JSON");
        assertBad(valid().replace("\"version\": 1", "\"version\": 2"), "version 2");
        assertBad(valid().replace("\"vocab_size\"", "\"extra\": 1, \"vocab_size\""), "unknown key \"extra\"");
        assertBad(valid().replace("259", "300"), "vocab_size is 300");
        assertBad(valid().replace("[257, 101]", "[258, 101]"), "merge 1");
        assertBad(valid().replace("[257, 101]", "[116, 104]"), "appears twice");
        assertBad(valid().replace("[257, 101]", "[256, 101]"), "merge 1"); // a special token never merges
        assertBad(valid().replace("\"id\": 256", "\"id\": 300"), "id 300");
        assertBad(valid().replace("<eod>", "<bos>"), "<eod>");
        assertBad(valid().replace("\"model\": \"byte-level-bpe\", ", "\"model\": \"byte-level-bpe\", \"model\": \"x\", "),
                "not valid JSON", "duplicate key \"model\"");
        assertBad(valid() + " {}", "not valid JSON");
        assertBad(valid().replace("[116, 104]", "[116.5, 104]"), "merge 0 must be a pair of token ids", "[116.5,104]");
        assertBad(valid().replace("\"version\": 1", "\"version\": 1.0"), "\"version\" must be an integer");
        assertBad(valid().replace("\"version\": 1, ", ""), "\"version\" is missing");
        assertBad(valid().replace("\"merges\": [[116, 104], [257, 101]]", "\"merges\": {}"), "\"merges\" must be an array");
        assertBad(valid().replace("\"byte-level-bpe\"", "\"wordpiece\""), "\"model\" must be \"byte-level-bpe\"");
        assertBad(valid().replace("{\"id\": 256, ", "{\"id\": 256, \"x\": 0, "), "each special token must be");
        byte[] latin1 = valid().replace("<eod>", "<eod>\u00e9").getBytes(StandardCharsets.ISO_8859_1);
        assertBad(latin1, "not valid JSON", "UTF-8");
        InputException missing = assertThrows(InputException.class, () -> Tokenizer.load(dir.resolve("nope.json")));
        assertTrue(missing.getMessage().contains("does not exist"));
        assertThrows(InputException.class, () -> Tokenizer.load(dir));
    }
}
