package dev.palm4j.train.checkpoint;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.palm4j.core.InputException;
import dev.palm4j.core.io.Json;
import dev.palm4j.core.io.JsonObject;
import dev.palm4j.core.kernels.Simd;
import dev.palm4j.core.model.NormKind;
import dev.palm4j.core.model.PalmConfig;
import dev.palm4j.core.model.ParamLayout;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CheckpointsTest {
    @TempDir Path run;

    static final PalmConfig C = new PalmConfig(13, 8, 1, 2, 4, 1, 2, NormKind.LAYERNORM, 1e-5f, 10000.0, 16, 1e-4f);
    static final int N = new ParamLayout(C).size();

    @AfterEach
    void resetHooks() {
        Checkpoints.testHook = null;
        System.clearProperty(Checkpoints.DELAY_PROPERTY);
        System.clearProperty(Checkpoints.DISK_BYTES_PROPERTY);
    }

    static float[] random(long seed) {
        Random r = new Random(seed);
        float[] a = new float[N];
        for (int i = 0; i < N; i++) a[i] = Float.intBitsToFloat(r.nextInt());
        return a;
    }

    static Checkpoint ckpt(long step, Double valLoss) {
        Map<String, float[]> opt = new LinkedHashMap<>();
        opt.put("exp_avg", random(step * 3 + 1));
        opt.put("exp_avg_sq", random(step * 3 + 2));
        Map<String, Object> train = new LinkedHashMap<>();
        train.put("adam_step", step);
        train.put("loss_scale", 0.5);
        train.put("schedule", Map.of("name", "cosine", "warmup", 10L));
        train.put("recent_losses", List.of(3.25, 3.5));
        Map<String, Double> metrics = valLoss == null ? Map.of() : Map.of("val_loss", valLoss);
        return new Checkpoint(C, random(step * 3), opt, step, step * 1000 + 7, new long[] {step, -1L, Long.MIN_VALUE}, train, metrics);
    }

    Path tokenizer() throws IOException {
        Path t = run.resolveSibling(run.getFileName() + "-tok.json");
        Files.writeString(t, "{\"format\": \"palm4j-tokenizer\", \"merges\": []}\n");
        return t;
    }

    Path ckDir() {
        return run.resolve("checkpoints");
    }

    String latest() throws IOException {
        return Files.readString(ckDir().resolve("latest"));
    }

    List<String> entries() throws IOException {
        try (Stream<Path> s = Files.list(ckDir())) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    static void assertBitwise(float[] a, float[] b) {
        assertEquals(a.length, b.length);
        for (int i = 0; i < a.length; i++) assertEquals(Float.floatToRawIntBits(a[i]), Float.floatToRawIntBits(b[i]), "element " + i);
    }

    static void assertSame(Checkpoint want, Checkpoint got) {
        assertEquals(want.config(), got.config());
        assertBitwise(want.params(), got.params());
        assertEquals(List.copyOf(want.optimizer().keySet()), List.copyOf(got.optimizer().keySet()));
        for (String k : want.optimizer().keySet()) assertBitwise(want.optimizer().get(k), got.optimizer().get(k));
        assertEquals(want.step(), got.step());
        assertEquals(want.dataPosition(), got.dataPosition());
        assertArrayEquals(want.rng(), got.rng());
        assertEquals(want.metrics(), got.metrics());
        assertEquals(Json.write(want.trainState()), Json.write(got.trainState()));
    }

    @Test
    void roundTripRestoresEverything() throws IOException {
        Checkpoint c = ckpt(5, 2.5);
        Checkpoints.Saved saved = Checkpoints.save(run, c, tokenizer(), Retention.ALL);
        assertEquals(ckDir().resolve("step-00000005"), saved.dir());
        assertEquals("step-00000005\n", latest());
        for (Path p : List.of(run, ckDir(), saved.dir())) {
            Checkpoints.Loaded l = Checkpoints.load(p);
            assertEquals(saved.dir(), l.dir());
            assertSame(c, l.checkpoint());
            assertEquals(List.of(), l.skipped());
            assertEquals(Files.readString(tokenizer()), Files.readString(l.tokenizer()));
            assertEquals(Simd.bits(), l.state().vectorBits());
            assertEquals(Runtime.version().toString(), l.state().jdk());
        }
        Checkpoints.Loaded m = Checkpoints.loadModel(run);
        assertBitwise(c.params(), m.checkpoint().params());
        assertTrue(m.checkpoint().optimizer().isEmpty());
    }

    @Test
    void stateJsonHasTheDocumentedFieldsAndTrueChecksums() throws IOException {
        Path dir = Checkpoints.save(run, ckpt(3, null), tokenizer(), Retention.ALL).dir();
        JsonObject s = JsonObject.of(Json.parse(Files.readAllBytes(dir.resolve("state.json")), "state.json"), "state.json");
        assertEquals(List.of("format", "version", "step", "data_position", "rng", "vector_bits", "jdk", "created", "config",
                "metrics", "train", "files"), List.copyOf(s.keys()));
        assertEquals("palm4j-checkpoint", s.string("format"));
        assertEquals(3, s.longValue("step"));
        assertEquals(3007, s.longValue("data_position"));
        assertArrayEquals(new long[] {3, -1, Long.MIN_VALUE}, s.longs("rng"));
        assertEquals(8, s.object("config").intValue("d_model"));
        JsonObject files = s.object("files");
        assertEquals(List.of("model.safetensors", "optimizer.safetensors", "palm-tokenizer.json"), List.copyOf(files.keys()));
        for (String f : files.keys()) {
            byte[] bytes = Files.readAllBytes(dir.resolve(f));
            CRC32C crc = new CRC32C();
            crc.update(bytes);
            assertEquals(String.format("%08x", crc.getValue()), files.object(f).string("crc32c"), f);
            assertEquals(bytes.length, files.object(f).longValue("bytes"));
        }
        try (Stream<Path> l = Files.list(dir)) {
            assertEquals(List.of("model.safetensors", "optimizer.safetensors", "palm-tokenizer.json", "state.json"),
                    l.map(p -> p.getFileName().toString()).sorted().toList());
        }
    }

    @Test
    void aCorruptFileIsNamedAndTheRunFallsBackToThePreviousCheckpoint() throws IOException {
        Checkpoint one = ckpt(1, null);
        Checkpoints.save(run, one, null, Retention.ALL);
        Path two = Checkpoints.save(run, ckpt(2, null), null, Retention.ALL).dir();
        Path model = two.resolve("model.safetensors");
        byte[] b = Files.readAllBytes(model);
        b[b.length - 3] ^= 0x10; // one bit in the last weights: the file still parses, only the checksum knows
        Files.write(model, b);

        Checkpoints.Loaded l = Checkpoints.load(run);
        assertEquals(1, l.checkpoint().step());
        assertSame(one, l.checkpoint());
        assertEquals(1, l.skipped().size());
        assertTrue(l.skipped().get(0).startsWith("step-00000002: ") && l.skipped().get(0).contains("model.safetensors"), l.skipped().get(0));

        InputException e = assertThrows(InputException.class, () -> Checkpoints.load(two));
        assertTrue(e.problem().contains(model.toString()) && e.problem().contains("corrupt"), e.problem());
        assertTrue(e.problem().matches(".*records crc32c [0-9a-f]{8}, \\d+ bytes, the file has crc32c [0-9a-f]{8}, \\d+ bytes.*"), e.problem());
    }

    @Test
    void missingTruncatedOrGarbageFilesAreSkipped() throws IOException {
        Checkpoints.save(run, ckpt(1, null), null, Retention.ALL);
        Path two = Checkpoints.save(run, ckpt(2, null), null, Retention.ALL).dir();
        Path three = Checkpoints.save(run, ckpt(3, null), null, Retention.ALL).dir();
        Path opt = three.resolve("optimizer.safetensors");
        Files.write(opt, java.util.Arrays.copyOf(Files.readAllBytes(opt), 100));
        Files.writeString(two.resolve("state.json"), "{\"step\": 2,");
        Checkpoints.Loaded l = Checkpoints.load(run);
        assertEquals(1, l.checkpoint().step());
        assertEquals(2, l.skipped().size());
        assertTrue(l.skipped().get(0).contains("optimizer.safetensors"), l.skipped().get(0));
        assertTrue(l.skipped().get(1).contains("malformed JSON at byte"), l.skipped().get(1));
        assertEquals(3, Checkpoints.loadModel(run).checkpoint().step(), "a model-only load needs no optimizer state");
        Files.delete(three.resolve("model.safetensors"));
        assertTrue(assertThrows(InputException.class, () -> Checkpoints.load(three)).problem().contains("missing"));
    }

    @Test
    void aDamagedLatestFileFallsBackToScanning() throws IOException {
        Checkpoints.save(run, ckpt(1, null), null, Retention.ALL);
        Checkpoints.save(run, ckpt(2, null), null, Retention.ALL);
        Files.writeString(ckDir().resolve("latest"), "../../etc\n");
        assertEquals(2, Checkpoints.load(run).checkpoint().step());
        Files.writeString(ckDir().resolve("latest"), "step-00000099\n");
        assertEquals(2, Checkpoints.load(run).checkpoint().step());
        Files.delete(ckDir().resolve("latest"));
        assertEquals(2, Checkpoints.load(run).checkpoint().step());
        Files.writeString(ckDir().resolve("latest"), "step-00000001\n"); // latest wins over a newer directory
        assertEquals(1, Checkpoints.load(run).checkpoint().step());
    }

    @Test
    void nothingToLoadIsAClearError() throws IOException {
        assertTrue(assertThrows(InputException.class, () -> Checkpoints.load(run.resolve("nope"))).problem().startsWith("no checkpoint at"));
        assertTrue(assertThrows(InputException.class, () -> Checkpoints.load(run)).problem().startsWith("no checkpoint in"));
        Files.writeString(run.resolve("model.safetensors"), "x");
        assertTrue(assertThrows(InputException.class, () -> Checkpoints.load(run.resolve("model.safetensors"))).problem().contains("is a file"));
        Files.createDirectories(ckDir().resolve("step-00000001"));
        assertTrue(assertThrows(InputException.class, () -> Checkpoints.load(run)).problem().startsWith("no valid checkpoint in"));
    }

    /** A failure at any point before the rename leaves the previous checkpoint, latest and nothing else. */
    @Test
    void aFailureMidWriteLeavesThePreviousCheckpointIntact() throws IOException {
        Checkpoint one = ckpt(1, null);
        Checkpoints.save(run, one, tokenizer(), Retention.ALL);
        List<String> before = entries();
        for (int failAt = 0; failAt < 5; failAt++) { // model, optimizer, tokenizer, state.json, renamed directory
            AtomicInteger calls = new AtomicInteger();
            int k = failAt;
            List<Path> seen = new ArrayList<>();
            Checkpoints.testHook = p -> {
                seen.add(p);
                if (calls.getAndIncrement() == k) throw new IOException("simulated disk failure after " + p.getFileName());
            };
            InputException e = assertThrows(InputException.class, () -> Checkpoints.save(run, ckpt(2, null), tokenizer(), Retention.keepLast(1)));
            assertTrue(e.problem().contains("could not write checkpoint step-00000002") && e.problem().contains("simulated disk failure"), e.problem());
            assertTrue(e.hint().contains("unchanged"), e.hint());
            assertEquals("step-00000001\n", latest());
            assertSame(one, Checkpoints.load(run).checkpoint());
            if (k < 4) assertEquals(before, entries(), "no partial directory left after failing at " + seen.get(k));
            Checkpoints.testHook = null;
            if (k == 4) { // failed after the rename: a complete step-2 exists, latest still names step-1
                assertEquals(2, Checkpoints.load(run.resolve("checkpoints/step-00000002")).checkpoint().step());
                DurableFiles.deleteTree(run.resolve("checkpoints/step-00000002"));
            }
        }
        Checkpoints.save(run, ckpt(2, null), tokenizer(), Retention.ALL);
        assertEquals(2, Checkpoints.load(run).checkpoint().step());
    }

    /**
     * The disk fills up in the middle of a file (the write stores what fits, then fails with
     * ENOSPC), in each file of the save in turn: the save says so, the previous checkpoint still
     * loads bitwise, 'latest' is unchanged, nothing is left behind, and a later save succeeds.
     */
    @Test
    void aFullDiskMidFileLeavesThePreviousCheckpointIntact() throws IOException {
        Checkpoint one = ckpt(1, null);
        Path first = Checkpoints.save(run, one, tokenizer(), Retention.ALL).dir();
        List<String> before = entries();
        long used = DurableFiles.treeBytes(ckDir());
        long model = Files.size(first.resolve("model.safetensors")), opt = Files.size(first.resolve("optimizer.safetensors")),
                tok = Files.size(first.resolve("palm-tokenizer.json")), state = Files.size(first.resolve("state.json"));
        long[] room = {0, model / 2, model + opt / 2, model + opt + tok / 2, model + opt + tok + state / 2};
        for (long r : room) {
            System.setProperty(Checkpoints.DISK_BYTES_PROPERTY, Long.toString(used + r));
            InputException e = assertThrows(InputException.class, () -> Checkpoints.save(run, ckpt(2, null), tokenizer(), Retention.keepLast(1)));
            assertTrue(e.problem().startsWith("could not write checkpoint step-00000002 in " + ckDir()), e.problem());
            assertTrue(e.problem().endsWith("No space left on device"), e.problem());
            assertTrue(e.hint().contains("unchanged") && e.hint().contains("free disk space"), e.hint());
            assertEquals("step-00000001\n", latest(), "room " + r);
            assertEquals(before, entries(), "no partial directory left with room for " + r + " bytes");
            assertSame(one, Checkpoints.load(run).checkpoint());
        }
        System.clearProperty(Checkpoints.DISK_BYTES_PROPERTY);
        Checkpoint two = ckpt(2, null);
        Checkpoints.save(run, two, tokenizer(), Retention.keepLast(1));
        assertEquals(List.of("latest", "step-00000002"), entries());
        assertSame(two, Checkpoints.load(run).checkpoint());
    }

    /**
     * The disk fills up after the new directory is in place, while 'latest' is replaced: the new
     * checkpoint is complete but 'latest' still names the previous one, which loads; the partial
     * temporary file is removed by the next save.
     */
    @Test
    void aFullDiskWhileReplacingLatestKeepsThePreviousLatest() throws IOException {
        Checkpoint one = ckpt(1, null);
        Checkpoints.save(run, one, null, Retention.ALL);
        Checkpoints.testHook = p -> { // once step-2 is renamed in, leave 5 bytes: "step-00000002\n" does not fit
            if (p.getFileName().toString().equals("step-00000002"))
                System.setProperty(Checkpoints.DISK_BYTES_PROPERTY, Long.toString(DurableFiles.treeBytes(ckDir()) + 5));
        };
        InputException e = assertThrows(InputException.class, () -> Checkpoints.save(run, ckpt(2, null), null, Retention.ALL));
        assertTrue(e.problem().contains("was written but 'latest' could not be updated") && e.problem().contains("No space left on device"),
                e.problem());
        assertTrue(e.hint().contains("free disk space"), e.hint());
        assertEquals("step-00000001\n", latest());
        assertSame(one, Checkpoints.load(run).checkpoint());
        assertTrue(entries().stream().anyMatch(n -> n.startsWith(".tmp-latest-")), "the partial write is there: " + entries());
        Checkpoints.testHook = null;
        System.clearProperty(Checkpoints.DISK_BYTES_PROPERTY);
        Checkpoints.save(run, ckpt(3, null), null, Retention.ALL);
        assertEquals(List.of("latest", "step-00000001", "step-00000002", "step-00000003"), entries());
        assertEquals(3, Checkpoints.load(run).checkpoint().step());
    }

    /** A real I/O error (here: the next file cannot be created) behaves the same. */
    @Test
    void aRealIoErrorIsReportedAndCleanedUp() throws IOException {
        Checkpoints.save(run, ckpt(1, null), null, Retention.ALL);
        List<String> before = entries();
        Checkpoints.testHook = p -> {
            if (p.getFileName().toString().equals("model.safetensors"))
                Files.createDirectory(p.resolveSibling("optimizer.safetensors")); // blocks the next file
        };
        InputException e = assertThrows(InputException.class, () -> Checkpoints.save(run, ckpt(2, null), null, Retention.ALL));
        assertTrue(e.problem().endsWith("optimizer.safetensors already exists"), e.problem());
        assertEquals(before, entries());
        assertEquals("step-00000001\n", latest());
    }

    @Test
    void staleTemporaryDirectoriesAreIgnoredAndCleaned() throws IOException {
        Checkpoints.save(run, ckpt(1, null), null, Retention.ALL);
        Path stale = Files.createDirectories(ckDir().resolve(".tmp-step-00000009-4242"));
        Files.write(stale.resolve("model.safetensors"), new byte[] {1, 2, 3});
        Files.writeString(ckDir().resolve(".tmp-latest-4242"), "step-00000009\n");
        Files.createDirectories(ckDir().resolve(".trash-step-00000000-1"));
        assertEquals(1, Checkpoints.load(run).checkpoint().step());
        assertEquals(List.of(ckDir().resolve("step-00000001")), Checkpoints.list(run));
        Checkpoints.save(run, ckpt(2, null), null, Retention.ALL);
        assertEquals(List.of("latest", "step-00000001", "step-00000002"), entries());
    }

    @Test
    void retentionKeepsTheNewestAndTheBest() throws IOException {
        double[] val = {5, 2, 4, 3, 6, 7};
        List<Path> deleted = new ArrayList<>();
        for (int s = 1; s <= val.length; s++)
            deleted.addAll(Checkpoints.save(run, ckpt(s, val[s - 1]), null, new Retention(2, "val_loss")).deleted());
        assertEquals(List.of("latest", "step-00000002", "step-00000005", "step-00000006"), entries());
        assertEquals(List.of(1L, 3L, 4L), deleted.stream().map(p -> Long.parseLong(p.getFileName().toString().substring(5))).sorted().toList());
        Checkpoints.save(run, ckpt(7, null), null, new Retention(1, "val_loss")); // no val_loss at 7: step 2 stays best
        assertEquals(List.of("latest", "step-00000002", "step-00000007"), entries());
        Checkpoints.save(run, ckpt(8, 1.0), null, new Retention(1, "val_loss"));
        assertEquals(List.of("latest", "step-00000008"), entries());
    }

    @Test
    void retentionNeverDeletesWhatLatestNames() throws IOException {
        Checkpoints.save(run, ckpt(10, null), null, Retention.keepLast(1));
        Checkpoints.save(run, ckpt(3, null), null, Retention.keepLast(1)); // a rollback to an earlier step
        assertEquals("step-00000003\n", latest());
        assertEquals(List.of("latest", "step-00000003", "step-00000010"), entries());
        assertEquals(3, Checkpoints.load(run).checkpoint().step());
        assertThrows(InputException.class, () -> Retention.keepLast(0));
    }

    @Test
    void savingTheSameStepAgainReplacesIt() throws IOException {
        Checkpoints.save(run, ckpt(4, null), null, Retention.ALL);
        Checkpoint again = new Checkpoint(C, random(99), Map.of(), 4, 1, new long[] {9}, Map.of(), Map.of());
        Checkpoints.save(run, again, null, Retention.ALL);
        assertEquals(List.of("latest", "step-00000004"), entries());
        assertSame(again, Checkpoints.load(run).checkpoint());
    }

    @Test
    void badArgumentsFailBeforeAnythingIsWritten() {
        assertThrows(IllegalArgumentException.class,
                () -> Checkpoints.save(run, new Checkpoint(C, new float[3], Map.of(), 1, 0, null, null, null), null, Retention.ALL));
        assertThrows(IllegalArgumentException.class,
                () -> Checkpoints.save(run, new Checkpoint(C, new float[N], Map.of("m", new float[2]), 1, 0, null, null, null), null, Retention.ALL));
        assertTrue(assertThrows(InputException.class, () -> Checkpoints.save(run, ckpt(1, null), run.resolve("no-tok.json"), Retention.ALL))
                .problem().contains("no-tok.json"));
        assertFalse(Files.exists(ckDir()));
        Map<String, Object> bad = Map.of("x", Double.NaN); // not JSON: refused with the run untouched
        InputException e = assertThrows(InputException.class,
                () -> Checkpoints.save(run, new Checkpoint(C, new float[N], Map.of(), 1, 0, null, bad, null), null, Retention.ALL));
        assertTrue(e.problem().contains("could not write checkpoint"), e.problem());
    }

    @Test
    void nonFiniteMetricsAreStoredAsNullAndNeverBest() throws IOException {
        Checkpoints.save(run, ckpt(1, Double.NaN), null, new Retention(1, "val_loss"));
        Checkpoints.save(run, ckpt(2, null), null, new Retention(1, "val_loss"));
        assertEquals(List.of("latest", "step-00000002"), entries());
        Checkpoints.save(run, ckpt(3, Double.POSITIVE_INFINITY), null, Retention.ALL);
        assertTrue(Double.isNaN(Checkpoints.load(run).checkpoint().metrics().get("val_loss")));
        assertNull(Checkpoints.load(run).checkpoint().metrics().get("other"));
    }

    @Test
    void theDelayPropertySlowsEachDurableStep() throws IOException {
        System.setProperty(Checkpoints.DELAY_PROPERTY, "20");
        long t0 = System.nanoTime();
        Checkpoints.save(run, ckpt(1, null), null, Retention.ALL);
        long ms = (System.nanoTime() - t0) / 1_000_000;
        assertTrue(ms >= 5 * 20, "model, optimizer, state, directory, latest: five pauses, took " + ms + " ms");
        assertEquals("step-00000001\n", new String(Files.readAllBytes(ckDir().resolve("latest")), StandardCharsets.US_ASCII));
    }
}
