package dev.palm4j.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.palm4j.core.InputException;
import dev.palm4j.core.io.Json;
import dev.palm4j.train.config.RunConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TrainerTest {
    @TempDir static Path shared;
    static Path corpus;

    /** A small made-up corpus with structure a model can learn: a few sentence patterns. */
    @BeforeAll
    static void writeCorpus() throws Exception {
        corpus = shared.resolve("text");
        Files.createDirectories(corpus);
        String[] who = {"the king", "a shepherd", "the people", "my brother"}, did = {"went up to", "looked upon", "came unto"},
                what = {"the mountain", "the city", "the river", "the temple"};
        Random r = new Random(1);
        for (int d = 0; d < 6; d++) {
            StringBuilder sb = new StringBuilder();
            for (int s = 0; s < 300; s++)
                sb.append(who[r.nextInt(4)]).append(' ').append(did[r.nextInt(3)]).append(' ').append(what[r.nextInt(4)]).append(". ");
            Files.writeString(corpus.resolve("doc" + d + ".txt"), sb);
        }
    }

    static RunConfig config(int steps, String... sets) {
        String yaml = """
                model: {vocab: 320, d_model: 32, n_layers: 2, n_heads: 4, n_kv_heads: 1}
                data: {source: %s, val_fraction: 0.2, cache_dir: %s}
                train: {batch_size: 4, seq_len: 32, steps: %d, grad_accum: 2, eval_interval: 5, eval_batches: 2,
                        checkpoint_interval: 4, keep_checkpoints: 3, seed: 7, threads: 2, log_interval: 5,
                        sample_interval: 0}
                optimizer: {kind: adamw}
                schedule: {kind: warmup_cosine, lr: 3.0e-3, warmup_steps: 2, total_steps: 40}
                """.formatted(corpus, shared.resolve("cache"), steps);
        return RunConfig.parse(yaml, "test.yaml", List.of(sets));
    }

    static Trainer.Options fresh(Path dir) {
        return new Trainer.Options(dir, false, null, 100, "test");
    }

    static List<Map<String, Object>> metrics(Path dir) throws Exception {
        List<Map<String, Object>> out = new ArrayList<>();
        for (String line : Files.readAllLines(dir.resolve("metrics.jsonl"))) {
            @SuppressWarnings("unchecked") Map<String, Object> m = (Map<String, Object>) Json.parse(line);
            out.add(m);
        }
        return out;
    }

    @Test
    void trainsOnTextAndWritesTheRunDirectory(@TempDir Path dir) throws Exception {
        Path run = dir.resolve("run");
        List<Double> losses = new ArrayList<>();
        try (Trainer t = new Trainer(config(30), fresh(run), new TrainListener() {
            @Override public void onStep(Trainer.StepMetrics m) { losses.add(m.loss()); }
        })) {
            t.run();
        }
        assertEquals(30, losses.size());
        assertTrue(losses.get(29) < losses.get(0) - 1.0, "loss should fall clearly: " + losses.get(0) + " -> " + losses.get(29));
        for (String f : List.of("config.yaml", "run.json", "metrics.jsonl", "checkpoints/latest"))
            assertTrue(Files.exists(run.resolve(f)), f);
        List<Map<String, Object>> m = metrics(run);
        long steps = m.stream().filter(x -> !x.containsKey("event")).count();
        assertEquals(30, steps);
        assertTrue(m.stream().anyMatch(x -> x.containsKey("val_loss")), "eval lines carry val_loss");
        for (String key : List.of("step", "loss", "ce", "lr", "grad_norm", "tokens_per_s", "mfu"))
            assertTrue(m.get(0).containsKey(key), key);
        // A resolved config.yaml reproduces the run's config.
        assertEquals(config(30), RunConfig.load(run.resolve("config.yaml"), List.of()));
    }

    @Test
    void aResumedRunIsBitwiseIdenticalToAnUninterruptedOne(@TempDir Path dir) throws Exception {
        Path whole = dir.resolve("whole"), split = dir.resolve("split");
        float[] expected;
        try (Trainer t = new Trainer(config(12), fresh(whole), null)) {
            t.run();
            expected = t.model().params().clone();
        }
        try (Trainer t = new Trainer(config(8), fresh(split), null)) {
            t.run();
        }
        float[] got;
        try (Trainer t = new Trainer(config(12), new Trainer.Options(split, true, null, 100, "test"), null)) {
            assertEquals(8, t.step());
            t.run();
            got = t.model().params().clone();
        }
        assertArrayEquals(expected, got, "weights after 8 + resume to 12 differ from 12 straight");
        List<Object> a = metrics(whole).stream().filter(x -> !x.containsKey("event")).map(x -> x.get("loss")).toList();
        List<Object> b = metrics(split).stream().filter(x -> !x.containsKey("event")).map(x -> x.get("loss")).toList();
        assertEquals(a, b, "the resumed run's metrics.jsonl has each step once, with the same losses");
        assertTrue(metrics(split).stream().anyMatch(x -> "resume".equals(x.get("event"))));
    }

    @Test
    void aNonEmptyRunDirectoryIsNeverOverwritten(@TempDir Path dir) throws Exception {
        Path run = dir.resolve("run");
        Files.createDirectories(run);
        Files.writeString(run.resolve("precious.txt"), "keep me");
        InputException e = assertThrows(InputException.class, () -> new Trainer(config(2), fresh(run), null));
        assertTrue(e.getMessage().contains("not empty"), e.getMessage());
        assertEquals("keep me", Files.readString(run.resolve("precious.txt")));
        InputException r = assertThrows(InputException.class,
                () -> new Trainer(config(2), new Trainer.Options(dir.resolve("none"), true, null, 100, "t"), null));
        assertTrue(r.getMessage().contains("not a palm4j run directory"), r.getMessage());
    }

    @Test
    void initFromStartsFromTrainedWeightsWithAFreshSchedule(@TempDir Path dir) throws Exception {
        Path first = dir.resolve("first");
        float[] trained;
        try (Trainer t = new Trainer(config(4), fresh(first), null)) {
            t.run();
            trained = t.model().params().clone();
        }
        try (Trainer t = new Trainer(config(4), new Trainer.Options(dir.resolve("second"), false, first, 100, "t"), null)) {
            assertEquals(0, t.step());
            assertArrayEquals(trained, t.model().params());
        }
    }

    @Test
    void aRunThatCannotFitTheHeapFailsAtStartNamingTheFix(@TempDir Path dir) {
        // 2^31 / 4 floats of activations alone are far beyond any test heap.
        RunConfig huge = config(2, "train.batch_size=4096", "train.grad_accum=1", "model.d_model=512", "model.n_heads=8");
        InputException e = assertThrows(InputException.class, () -> Trainer.requireHeap(huge));
        assertTrue(e.getMessage().contains("-Xmx"), e.getMessage());
        Trainer.requireHeap(config(2)); // a small run fits
    }

    @Test
    void aRequestedStopCheckpointsAndResumesBitwise(@TempDir Path dir) throws Exception {
        Path whole = dir.resolve("whole"), stopped = dir.resolve("stopped");
        float[] expected;
        try (Trainer t = new Trainer(config(9), fresh(whole), null)) {
            t.run();
            expected = t.model().params().clone();
        }
        Trainer[] self = new Trainer[1];
        try (Trainer t = new Trainer(config(9), fresh(stopped), new TrainListener() {
            @Override public void onStep(Trainer.StepMetrics m) { if (m.step() == 5) self[0].requestStop(); }
        })) {
            self[0] = t;
            assertEquals(5, t.run().step());
        }
        assertTrue(Files.exists(stopped.resolve("checkpoints/step-00000005")), "a checkpoint at the stop");
        assertTrue(metrics(stopped).stream().anyMatch(x -> "stop".equals(x.get("event"))));
        try (Trainer t = new Trainer(config(9), new Trainer.Options(stopped, true, null, 100, "test"), null)) {
            t.run();
            assertArrayEquals(expected, t.model().params());
        }
    }
}
