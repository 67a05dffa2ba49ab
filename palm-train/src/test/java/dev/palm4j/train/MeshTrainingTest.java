package dev.palm4j.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.palm4j.core.model.ParamLayout;
import dev.palm4j.train.config.RunConfig;
import dev.palm4j.train.parallel.SimulatedDevice;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Any mesh trains to the losses and weights of the 1x1 run (DESIGN.md, "Parallelism"), and a
 * checkpoint written on one mesh resumes on another.
 */
class MeshTrainingTest {
    @TempDir static Path shared;
    static Path corpus;
    static final int STEPS = 20;
    static Run single, singleAdafactor;

    record Run(List<Double> losses, float[] weights, List<Trainer.StepMetrics> steps) {}

    @BeforeAll
    static void setUp() throws Exception {
        corpus = shared.resolve("text");
        Files.createDirectories(corpus);
        String[] who = {"the king", "a shepherd", "the people"}, did = {"went up to", "looked upon", "came unto"},
                what = {"the mountain", "the city", "the river"};
        Random r = new Random(2);
        for (int d = 0; d < 4; d++) {
            StringBuilder sb = new StringBuilder();
            for (int s = 0; s < 200; s++)
                sb.append(who[r.nextInt(3)]).append(' ').append(did[r.nextInt(3)]).append(' ').append(what[r.nextInt(3)]).append(". ");
            Files.writeString(corpus.resolve("doc" + d + ".txt"), sb);
        }
        single = train(shared.resolve("single"), STEPS, false, "parallel.data=1");
        singleAdafactor = train(shared.resolve("single-adafactor"), STEPS, false, "optimizer.kind=adafactor", "schedule.lr=1e-2");
    }

    static RunConfig config(int steps, String... sets) {
        return configWith(steps, "", sets);
    }

    static RunConfig configWith(int steps, String extraYaml, String... sets) {
        String yaml = extraYaml + """
                model: {vocab: 300, d_model: 32, n_layers: 2, n_heads: 4, n_kv_heads: 1}
                data: {source: %s, val_fraction: 0.25, cache_dir: %s}
                train: {batch_size: 8, seq_len: 16, steps: %d, eval_interval: 10, eval_batches: 2,
                        checkpoint_interval: 10, seed: 3, threads: 2, sample_interval: 0}
                optimizer: {kind: adamw}
                schedule: {kind: warmup_cosine, lr: 3.0e-3, warmup_steps: 2, total_steps: 40}
                """.formatted(corpus, shared.resolve("cache"), steps);
        return RunConfig.parse(yaml, "mesh.yaml", List.of(sets));
    }

    static Run train(Path dir, int steps, boolean resume, String... sets) {
        return trainWith(dir, steps, resume, "", sets);
    }

    static Run trainWith(Path dir, int steps, boolean resume, String extraYaml, String... sets) {
        List<Double> losses = new ArrayList<>();
        List<Trainer.StepMetrics> metrics = new ArrayList<>();
        try (Trainer t = new Trainer(configWith(steps, extraYaml, sets), new Trainer.Options(dir, resume, null, 100, "test"), new TrainListener() {
            @Override public void onStep(Trainer.StepMetrics m) {
                losses.add(m.loss());
                metrics.add(m);
            }
        })) {
            t.run();
            return new Run(losses, t.weights(), metrics);
        }
    }

    static void assertSameRun(Run want, Run got, String what) {
        assertEquals(want.losses.size(), got.losses.size());
        for (int i = 0; i < want.losses.size(); i++)
            assertEquals(want.losses.get(i), got.losses.get(i), 1e-5 * Math.abs(want.losses.get(i)), what + ": loss at step " + (i + 1));
        double maxDiff = 0;
        for (int i = 0; i < want.weights.length; i++) maxDiff = Math.max(maxDiff, Math.abs(want.weights[i] - got.weights[i]));
        assertTrue(maxDiff < 1e-4, what + ": final weights differ by up to " + maxDiff);
    }

    @ParameterizedTest(name = "{0} x {1}, sharded optimizer {2}, kv heads {3}")
    @CsvSource({"2,1,false,1", "1,2,false,1", "2,2,false,1", "1,4,false,1", "4,1,false,1", "2,1,true,1", "2,2,true,1",
            "1,2,false,2", "2,2,true,2"})
    void everyMeshTrainsLikeOneDevice(int data, int model, boolean zero, int kv) {
        String[] sets = {"parallel.data=" + data, "parallel.model=" + model, "parallel.shard_optimizer=" + zero,
                "model.n_kv_heads=" + kv};
        Run want = kv == 1 ? single : train(shared.resolve("single-kv" + kv + "-" + data + model + zero), STEPS, false, "model.n_kv_heads=" + kv);
        Run got = train(shared.resolve("mesh-" + data + "x" + model + "-" + zero + "-" + kv), STEPS, false, sets);
        assertSameRun(want, got, data + "x" + model);
    }

    @ParameterizedTest(name = "Adafactor {0} x {1}, sharded {2}")
    @CsvSource({"1,2,false", "2,2,true", "2,1,true"})
    void adafactorStatisticsAreSummedOverTheMesh(int data, int model, boolean zero) {
        Run got = train(shared.resolve("ada-" + data + "x" + model + zero), STEPS, false, "optimizer.kind=adafactor", "schedule.lr=1e-2",
                "parallel.data=" + data, "parallel.model=" + model, "parallel.shard_optimizer=" + zero);
        assertSameRun(singleAdafactor, got, "adafactor " + data + "x" + model);
    }

    @Test
    void aCheckpointFromOneMeshResumesOnAnotherAndBitwiseOnTheSame(@TempDir Path dir) throws Exception {
        // 2x2 with a sharded optimizer for 10 steps, then resumed on 1x1 and on 2x2 to step 20
        train(dir.resolve("a"), 10, false, "parallel.data=2", "parallel.model=2", "parallel.shard_optimizer=true");
        copyTree(dir.resolve("a"), dir.resolve("b"));
        Run onSingle = train(dir.resolve("a"), STEPS, true, "parallel.data=1", "parallel.model=1");
        Run onSame = train(dir.resolve("b"), STEPS, true, "parallel.data=2", "parallel.model=2", "parallel.shard_optimizer=true");
        Run whole = train(dir.resolve("c"), STEPS, false, "parallel.data=2", "parallel.model=2", "parallel.shard_optimizer=true");
        assertEquals(10, onSingle.losses.size());
        for (int i = 0; i < 10; i++)
            assertEquals(single.losses.get(10 + i), onSingle.losses.get(i), 1e-5 * single.losses.get(10 + i), "1x1 after 2x2, step " + (11 + i));
        assertEquals(whole.losses.subList(10, 20), onSame.losses, "same mesh: bitwise");
        assertArrayEquals(whole.weights, onSame.weights);
    }

    @Test
    void devicesThatCrashOrHangAreReplacedAndTheRunEndsBitwiseAsWithoutFaults(@TempDir Path dir) throws Exception {
        String[] mesh = {"parallel.data=2", "parallel.model=2", "parallel.timeout_s=1", "train.checkpoint_interval=5"};
        Run clean = train(dir.resolve("clean"), STEPS, false, mesh);
        // a crash before the first checkpoint (back to the initial weights), a hang, and device 3 failing again
        String faults = """
                faults:
                  - {device: 3, step: 3, kind: crash}
                  - {device: 1, step: 8, kind: hang}
                  - {device: 3, step: 14, kind: crash}
                """;
        Run faulty = trainWith(dir.resolve("faulty"), STEPS, false, faults, mesh);
        assertArrayEquals(clean.weights, faulty.weights, "bitwise the fault-free run");
        List<Map<String, Object>> events = TrainerTest.metrics(dir.resolve("faulty")).stream()
                .filter(m -> m.containsKey("event")).toList();
        List<String> failures = events.stream().filter(e -> e.get("event").equals("device_failure"))
                .map(e -> e.get("device") + ":" + e.get("kind") + "@" + e.get("failed_at_step")).toList();
        assertEquals(List.of("3:crash@3", "1:hang@8", "3:crash@14"), failures);
        List<Map<String, Object>> recovered = events.stream().filter(e -> e.get("event").equals("recovered")).toList();
        assertEquals(3, recovered.size());
        assertEquals("initial weights", recovered.get(0).get("from"));
        assertEquals("checkpoint", recovered.get(1).get("from"));
        assertTrue(((Number) recovered.get(1).get("seconds")).doubleValue() >= 0);
        // step lines never repeat: the replayed steps replaced the lost ones
        List<Object> steps = TrainerTest.metrics(dir.resolve("faulty")).stream().filter(m -> !m.containsKey("event"))
                .map(m -> m.get("step")).toList();
        assertEquals(STEPS, steps.size());
        assertEquals(STEPS, new java.util.HashSet<>(steps).size());
    }

    @Test
    void aNanStepIsSkippedAndARunOfThemStops(@TempDir Path dir) throws Exception {
        Run r = trainWith(dir.resolve("nan"), 8, false, "faults: [{step: 5, kind: nan}]\n");
        var lines = TrainerTest.metrics(dir.resolve("nan"));
        assertTrue(lines.stream().anyMatch(m -> "skipped_step".equals(m.get("event")) && ((Number) m.get("step")).longValue() == 5),
                "the NaN step is logged as skipped");
        assertTrue(r.steps.get(4).skipped() && !r.steps.get(3).skipped() && !r.steps.get(5).skipped());
        for (float w : r.weights) assertTrue(Float.isFinite(w), "no NaN reached the weights");
        StringBuilder many = new StringBuilder("faults:\n");
        for (int k = 3; k < 3 + Trainer.MAX_BAD_STEPS; k++) many.append("  - {step: ").append(k).append(", kind: nan}\n");
        var e = org.junit.jupiter.api.Assertions.assertThrows(dev.palm4j.core.InputException.class,
                () -> trainWith(dir.resolve("diverged"), 20, false, many.toString()));
        assertTrue(e.getMessage().contains("training diverged: " + Trainer.MAX_BAD_STEPS + " steps in a row"), e.getMessage());
    }

    @Test
    void aLossSpikeRollsBackToAnEarlierCheckpointAndSkipsBatches(@TempDir Path dir) throws Exception {
        String yaml = """
                spikes: {factor: 1.5, window: 6, rollback_steps: 5, skip_batches: 3}
                faults: [{step: 15, kind: spike}]
                """;
        Run r = trainWith(dir.resolve("spike"), STEPS, false, yaml, "train.checkpoint_interval=4", "train.keep_checkpoints=10");
        var lines = TrainerTest.metrics(dir.resolve("spike"));
        var rollback = lines.stream().filter(m -> "rollback".equals(m.get("event"))).toList();
        assertEquals(1, rollback.size(), lines.toString());
        assertEquals(15L, ((Number) rollback.get(0).get("spike_step")).longValue());
        assertEquals(8L, ((Number) rollback.get(0).get("to_step")).longValue(), "the newest checkpoint at least 5 steps back");
        assertEquals(8L + 3, ((Number) rollback.get(0).get("data_position")).longValue(), "3 batches skipped");
        List<Object> steps = lines.stream().filter(m -> !m.containsKey("event")).map(m -> m.get("step")).toList();
        assertEquals(STEPS, new java.util.HashSet<>(steps).size(), "no step line repeats");
        assertEquals(STEPS, steps.size());
        assertTrue(r.losses.stream().allMatch(l -> l < 8), "the spiked step is not among the logged ones: " + r.losses);
        // the checkpoints of the abandoned stretch (step 12) were replaced by the replayed ones
        var state = dev.palm4j.train.checkpoint.Checkpoints.load(dir.resolve("spike"));
        assertEquals(STEPS, state.checkpoint().step());
        assertEquals(STEPS + 3, state.checkpoint().dataPosition());
    }

    static void copyTree(Path from, Path to) throws Exception {
        try (var files = Files.walk(from)) {
            for (Path p : (Iterable<Path>) files::iterator) Files.copy(p, to.resolve(from.relativize(p).toString()));
        }
    }

    @Test
    void dataParallelBytesPerStepMatchTheRingAllReduce(@TempDir Path dir) {
        Run r = train(dir.resolve("bytes"), 2, false, "parallel.data=2");
        int params = new ParamLayout(config(1).model()).size();
        // each of the 2 devices sends half of every bucket twice (reduce-scatter, all-gather); the norm needs no data axis
        for (Trainer.StepMetrics m : r.steps) assertEquals(2L * 4 * params, m.commBytes(), "bytes at step " + m.step());
    }

    @Test
    void parameterMemoryPerDeviceFallsWithTheModelAxis(@TempDir Path dir) {
        long[] bytes = new long[3];
        int i = 0;
        for (int model : new int[] {1, 2, 4}) {
            try (Trainer t = new Trainer(config(1, "parallel.model=" + model), new Trainer.Options(dir.resolve("m" + model), false, null, 100,
                    "test"), null)) {
                var mem = t.plan().deviceMemory();
                assertEquals(model, mem.size());
                bytes[i++] = mem.get(0).get(SimulatedDevice.Memory.PARAMETERS);
            }
        }
        var c = config(1).model();
        long replicated = 4L * (c.vocab() * c.dModel() + (c.nLayers() + 1L) * c.dModel() + 2L * c.nLayers() * c.dModel() * c.headDim());
        for (int k = 1; k < 3; k++)
            assertEquals((bytes[0] - replicated) / (1 << k), bytes[k] - replicated, "split tensors fall as 1/model");
    }
}
