package dev.palm4j.train.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.palm4j.core.InputException;
import dev.palm4j.core.kernels.Parallel;
import dev.palm4j.core.tokenizer.Tokenizer;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PrepareTest {
    @TempDir Path dir;
    List<String> docs = new ArrayList<>();
    Tokenizer tok;

    static String text(Random r, int words) {
        String[] w = {"the", "and", "lord", "said", "unto", "him", "thou", "shalt", "not", "be", "afraid", "42", "\n"};
        StringBuilder s = new StringBuilder();
        for (int i = 0; i < words; i++) s.append(w[r.nextInt(w.length)]).append(r.nextInt(5) == 0 ? ". " : " ");
        return s.toString();
    }

    @BeforeEach
    void corpus() throws IOException {
        Random r = new Random(1);
        Files.createDirectories(dir.resolve("text"));
        for (int d = 0; d < 20; d++) {
            String t = text(r, 200 + r.nextInt(800)) + (d == 3 ? "caf\u00e9 \u00ff\u00fe" : "");
            docs.add(t);
            Files.writeString(dir.resolve("text").resolve(String.format("doc%02d.txt", d)), t);
        }
        List<byte[]> bytes = docs.stream().map(s -> s.getBytes(StandardCharsets.UTF_8)).toList();
        tok = Tokenizer.train(bytes, Tokenizer.TrainOptions.of(400), Parallel.SERIAL);
    }

    /** The split's stream cut at each {@code <eod>}, decoded. */
    private List<String> documents(Path out, String split) {
        ShardSet s = ShardSet.open(out, split);
        int[] ids = new int[(int) s.size()];
        s.read(0, ids, 0, ids.length);
        List<String> out2 = new ArrayList<>();
        ByteArrayOutputStream cur = new ByteArrayOutputStream();
        for (int id : ids) {
            if (id == tok.eodId()) {
                out2.add(cur.toString(StandardCharsets.UTF_8));
                cur.reset();
            } else cur.writeBytes(tok.decode(new int[] {id}));
        }
        assertEquals(0, cur.size(), "the stream ends with <eod>");
        return out2;
    }

    @Test
    void severalDocumentsHoldOutWholeDocuments() throws IOException {
        Path out = dir.resolve("prepared");
        Prepare.Result r = Prepare.prepare(TextSource.of(dir.resolve("text")), tok, out, 0.2);
        List<String> train = documents(out, "train"), val = documents(out, "val");
        assertEquals(20, train.size() + val.size());
        assertEquals(r.train().documents(), train.size());
        assertEquals(r.val().documents(), val.size());
        assertTrue(val.size() >= 2 && val.size() <= 8, "val documents: " + val.size());
        // Every document is whole and in order within its split.
        List<String> merged = new ArrayList<>(docs);
        merged.removeAll(val);
        assertEquals(merged, train);
        for (String v : val) assertTrue(docs.contains(v));
        long valTokens = r.val().tokens(), all = valTokens + r.train().tokens();
        assertTrue(valTokens > 0.1 * all && valTokens < 0.35 * all, valTokens + " of " + all);
        assertEquals(2, r.tokenWidth());
        assertArrayEquals(tok.encode("the lord"), Tokenizer.load(out.resolve(Prepare.TOKENIZER)).encode("the lord"));
        assertTrue(Files.readString(out.resolve(Prepare.MANIFEST)).contains("\"format\": \"palm4j-dataset\""));
    }

    @Test
    void oneDocumentSplitsAtTheTail() throws IOException {
        Path out = dir.resolve("one");
        Path file = dir.resolve("text/doc05.txt");
        Prepare.Result r = Prepare.prepare(TextSource.of(file), tok, out, 0.1);
        int[] expected = tok.encode(docs.get(5));
        ShardSet train = ShardSet.open(out, "train"), val = ShardSet.open(out, "val");
        assertEquals(expected.length + 1, train.size() + val.size());
        assertEquals(Math.round((expected.length + 1) * 0.1), val.size());
        int[] stream = new int[expected.length + 1];
        train.read(0, stream, 0, (int) train.size());
        val.read(0, stream, (int) train.size(), (int) val.size());
        assertArrayEquals(expected, java.util.Arrays.copyOf(stream, expected.length));
        assertEquals(tok.eodId(), stream[expected.length]);
        assertEquals(1, r.val().documents());
    }

    @Test
    void binaryAndInvalidUtf8DocumentsPassLosslessly() throws IOException {
        Path bin = dir.resolve("bin");
        Files.createDirectories(bin);
        byte[] junk = new byte[5000];
        new Random(2).nextBytes(junk);
        junk[0] = 0;
        Files.write(bin.resolve("a.bin"), junk);
        Files.write(bin.resolve("b.txt"), new byte[] {'o', 'k', (byte) 0xC3, ' ', (byte) 0xFF, '\n'});
        Path out = dir.resolve("binout");
        Prepare.prepare(TextSource.of(bin), tok, out, 0);
        ShardSet s = ShardSet.open(out, "train");
        int[] ids = new int[(int) s.size()];
        s.read(0, ids, 0, ids.length);
        int eod = 0;
        while (ids[eod] != tok.eodId()) eod++;
        assertArrayEquals(junk, tok.decode(ids, 0, eod));
        assertArrayEquals(Files.readAllBytes(bin.resolve("b.txt")), tok.decode(ids, eod + 1, ids.length - 1));
    }

    @Test
    void noValidationSplitAtFractionZero() {
        Path out = dir.resolve("noval");
        Prepare.Result r = Prepare.prepare(TextSource.of(dir.resolve("text")), tok, out, 0);
        assertEquals(0, r.val().tokens());
        assertEquals(docs, documents(out, "train"));
        assertTrue(assertThrows(InputException.class, () -> ShardSet.open(out, "val")).getMessage().contains("no val shards"));
    }

    @Test
    void sameShardsForAnyThreadCountAndBatching() throws IOException {
        Path a = dir.resolve("a"), b = dir.resolve("b");
        Prepare.prepare(TextSource.of(dir.resolve("text")), tok, a, new Prepare.Options(0.2, 0, 700, 3000), Parallel.SERIAL);
        try (Parallel par = Parallel.of(3)) {
            Prepare.prepare(TextSource.of(dir.resolve("text")), tok, b, new Prepare.Options(0.2, 0, 700, 1 << 20), par);
        }
        List<Path> fa = ShardSet.files(a, "train"), fb = ShardSet.files(b, "train");
        assertTrue(fa.size() > 2);
        assertEquals(fa.size(), fb.size());
        for (int i = 0; i < fa.size(); i++) assertArrayEquals(Files.readAllBytes(fa.get(i)), Files.readAllBytes(fb.get(i)));
    }

    @Test
    void preparingAgainReplacesTheDatasetButNeverForeignFiles() throws IOException {
        Path out = dir.resolve("again");
        Prepare.prepare(TextSource.of(dir.resolve("text")), tok, out, new Prepare.Options(0.2, 0, 500, 1 << 20), Parallel.SERIAL);
        int before = ShardSet.files(out, "train").size();
        Prepare.prepare(TextSource.of(dir.resolve("text/doc01.txt")), tok, out, Prepare.Options.of(0.2), Parallel.SERIAL);
        assertTrue(before > 1);
        assertEquals(1, ShardSet.files(out, "train").size());
        InputException e = assertThrows(InputException.class,
                () -> Prepare.prepare(TextSource.of(dir.resolve("text")), tok, dir.resolve("text"), 0.1));
        assertTrue(e.getMessage().contains("not empty"), e.getMessage());
        Files.delete(out.resolve(Prepare.MANIFEST)); // an interrupted prepare
        assertTrue(assertThrows(InputException.class, () -> ShardSet.open(out, "train")).getMessage().contains("not a complete"));
    }

    @Test
    void loaderReadsPreparedData() {
        Path out = dir.resolve("load");
        Prepare.prepare(TextSource.of(dir.resolve("text")), tok, out, 0.1);
        ShardLoader l = ShardLoader.open(out, "train", 4, 32, 0);
        assertEquals(tok.vocabSize(), l.vocabSize());
        for (int id : l.batch(3)) assertTrue(id >= 0 && id < tok.vocabSize());
    }

    /** A damaged vocab field in a shard header is reported as the shard's fault, not the model's. */
    @Test
    void aShardHeaderThatDisagreesWithTheManifestIsRefused() throws IOException {
        Path out = dir.resolve("damaged");
        Prepare.prepare(TextSource.of(dir.resolve("text")), tok, out, 0.1);
        Path shard = out.resolve("train-00000.bin");
        byte[] b = Files.readAllBytes(shard);
        b[17] ^= 1; // vocab size, little-endian at offset 16: +- 256
        Files.write(shard, b);
        InputException e = assertThrows(InputException.class, () -> ShardLoader.open(out, "train", 4, 32, 0));
        assertTrue(e.problem().startsWith(shard + " has a corrupt header: it says vocab size " + (tok.vocabSize() ^ 256)), e.problem());
        assertTrue(e.problem().endsWith("dataset.json says " + tok.vocabSize()), e.problem());
        assertEquals("prepare the data again", e.hint());
    }
}
