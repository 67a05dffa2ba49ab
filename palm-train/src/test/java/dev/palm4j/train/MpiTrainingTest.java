package dev.palm4j.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.palm4j.core.io.Json;
import dev.palm4j.train.checkpoint.Checkpoints;
import dev.palm4j.train.parallel.Mpirun;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code configs/tiny.yaml} with the data axis over Open MPI (one process per data rank, launched
 * by mpirun) trains exactly as the same mesh in one process: at 2 processes every loss, gradient
 * norm, validation loss, byte count and the final weights are bitwise equal (also with ZeRO-1,
 * Adafactor and a model axis inside each process); at 4 within 1e-6 relative. Only process 0
 * touches the run directory. A process that dies stops the job; its last checkpoint resumes in
 * one process bitwise, and a checkpoint written in one process resumes over MPI bitwise.
 */
class MpiTrainingTest {
    static final int STEPS = 10;
    /** Step-line fields that must agree (the rest are timings). */
    static final List<String> SAME = List.of("step", "loss", "ce", "lr", "grad_norm", "comm_bytes", "link_s", "val_loss", "val_ce");
    @TempDir static Path shared;
    static Path cache;
    static Run local2; // data=2 in one process, STEPS steps

    record Run(List<Map<String, Object>> steps, float[] weights) {}

    @BeforeAll
    static void setUp() throws Exception {
        if (!Mpirun.available()) return; // each test says why it is skipped
        cache = shared.resolve("cache");
        local2 = inProcess(shared.resolve("local2"), STEPS, false, "parallel.data=2"); // prepares the data cache too
    }

    @BeforeEach
    void needsMpi() {
        Mpirun.assumeAvailable();
    }

    static Run inProcess(Path dir, int steps, boolean resume, String... sets) throws Exception {
        return inProcess(MpiTrainChild.TINY, dir, steps, resume, sets);
    }

    static Run inProcess(Path yaml, Path dir, int steps, boolean resume, String... sets) throws Exception {
        try (Trainer t = new Trainer(MpiTrainChild.config(yaml, cache, steps, List.of(sets)), new Trainer.Options(dir, resume, null, 100, "t"),
                null)) {
            t.run();
        }
        return read(dir);
    }

    static Run read(Path dir) throws Exception {
        List<Map<String, Object>> steps = new ArrayList<>();
        for (String line : Files.readAllLines(dir.resolve("metrics.jsonl"))) {
            Object m;
            try {
                m = Json.parse(line);
            } catch (RuntimeException cutOff) { // the last line of a job stopped while process 0 wrote it
                continue;
            }
            @SuppressWarnings("unchecked") Map<String, Object> map = (Map<String, Object>) m;
            if (!map.containsKey("event")) steps.add(map);
        }
        return new Run(steps, Checkpoints.loadModel(dir).checkpoint().params());
    }

    /** mpirun: process 0 gets {@code dir}, the others {@code elsewhere} (which must stay untouched). */
    static Mpirun.Result overMpi(int ranks, Path dir, Path elsewhere, int steps, String mode, int dieRank, int dieStep, String... sets)
            throws Exception {
        return overMpi(MpiTrainChild.TINY, ranks, dir, elsewhere, steps, mode, dieRank, dieStep, sets);
    }

    static Mpirun.Result overMpi(Path yaml, int ranks, Path dir, Path elsewhere, int steps, String mode, int dieRank, int dieStep,
                                 String... sets) throws Exception {
        List<List<String>> apps = new ArrayList<>();
        apps.add(Mpirun.app(1, MpiTrainChild.class, args(yaml, dir, steps, mode, dieRank, dieStep, sets)));
        apps.add(Mpirun.app(ranks - 1, MpiTrainChild.class, args(yaml, elsewhere, steps, mode, dieRank, dieStep, sets)));
        return Mpirun.runMpmd(dir.resolveSibling(dir.getFileName() + ".log"), 180, apps);
    }

    static List<String> args(Path yaml, Path dir, int steps, String mode, int dieRank, int dieStep, String... sets) {
        List<String> a = new ArrayList<>(List.of(yaml.toAbsolutePath().toString(), dir.toString(), cache.toString(),
                Integer.toString(steps), mode, Integer.toString(dieRank), Integer.toString(dieStep)));
        a.addAll(List.of(sets));
        return a;
    }

    static void assertFinishedWithOneReplica(Mpirun.Result r, int ranks, Path elsewhere) {
        assertEquals(0, r.exitCode(), r.output());
        Matcher m = Pattern.compile("rank (\\d+) weights ([0-9a-f]+)").matcher(r.output());
        Set<String> crcs = new TreeSet<>();
        int seen = 0;
        while (m.find()) {
            crcs.add(m.group(2));
            seen++;
        }
        assertEquals(ranks, seen, r.output());
        assertEquals(1, crcs.size(), "every process holds the same weights: " + r.output());
        assertFalse(Files.exists(elsewhere), "processes other than 0 never touch their run directory");
    }

    static void assertSameSteps(Run want, Run got, double relTol, String what) {
        assertEquals(want.steps.size(), got.steps.size(), what + ": step lines");
        for (int i = 0; i < want.steps.size(); i++)
            for (String key : SAME) {
                Object a = want.steps.get(i).get(key), b = got.steps.get(i).get(key);
                String where = what + ": " + key + " at step " + (i + 1);
                if (relTol == 0 || !(a instanceof Double x) || !(b instanceof Double y)) assertEquals(a, b, where);
                else assertEquals(x, y, relTol * Math.abs(x), where);
            }
    }

    @Test
    void zeroOneAdafactorAModelAxisInsideEachProcessAndASpikeRollbackAreBitwiseToo(@TempDir Path dir) throws Exception {
        // a spike at step 7 rolls back to the checkpoint of step 5: process 0 picks it and broadcasts it
        Path yaml = dir.resolve("spike.yaml");
        Files.writeString(yaml, Files.readString(MpiTrainChild.TINY) + "\nfaults:\n  - {step: 7, kind: spike}\n");
        String[] sets = {"parallel.data=2", "parallel.model=2", "parallel.shard_optimizer=true", "optimizer.kind=adafactor",
                "optimizer.beta2=null", "optimizer.weight_decay=null", "schedule.lr=1e-2",
                "spikes.window=4", "spikes.factor=1.05", "spikes.rollback_steps=1", "spikes.skip_batches=3"};
        Run local = inProcess(yaml, dir.resolve("local"), 8, false, sets);
        Path run = dir.resolve("run"), other = dir.resolve("rank1-dir");
        assertFinishedWithOneReplica(overMpi(yaml, 2, run, other, 8, "new", -1, -1, sets), 2, other);
        Run mpi = read(run);
        String log = Files.readString(run.resolve("metrics.jsonl"));
        assertTrue(log.contains("\"event\":\"rollback\""), "the spike rolled back:\n" + log);
        assertSameSteps(local, mpi, 0, "2 x 2, ZeRO-1, Adafactor, a rollback, over MPI");
        assertArrayEquals(local.weights, mpi.weights, "final weights (the checkpoint gathers the optimizer shards)");
        assertArrayEquals(Checkpoints.load(dir.resolve("local")).checkpoint().optimizer().get("v"),
                Checkpoints.load(run).checkpoint().optimizer().get("v"), "optimizer state in the checkpoint");
    }

    @Test
    void fourProcessesAgreeWithDataFourInOneProcessWithinRounding(@TempDir Path dir) throws Exception {
        Run local = inProcess(dir.resolve("local"), 6, false, "parallel.data=4");
        Path run = dir.resolve("run"), other = dir.resolve("other-dirs");
        assertFinishedWithOneReplica(overMpi(4, run, other, 6, "new", -1, -1, "parallel.data=4"), 4, other);
        Run mpi = read(run);
        assertSameSteps(local, mpi, 1e-6, "data=4 over MPI");
        double maxDiff = 0;
        for (int i = 0; i < local.weights.length; i++) maxDiff = Math.max(maxDiff, Math.abs(local.weights[i] - mpi.weights[i]));
        assertTrue(maxDiff < 1e-5, "final weights differ by up to " + maxDiff);
    }

    @Test
    void twoProcessesTrainBitwiseAsOneADeadProcessStopsTheJobAndCheckpointsResumeAcrossBackends(@TempDir Path dir) throws Exception {
        // data=2 over MPI; process 1 dies after step 7: mpirun stops the job
        Path run = dir.resolve("died"), other = dir.resolve("rank1-dir");
        Mpirun.Result r = overMpi(2, run, other, STEPS, "new", 1, 7, "parallel.data=2");
        assertNotEquals(0, r.exitCode(), r.output());
        assertTrue(r.output().contains("rank 1 dies after step 7"), r.output());
        assertFalse(Files.exists(other), "processes other than 0 never touch their run directory");
        String runJson = Files.readString(run.resolve("run.json"));
        assertTrue(runJson.contains("\"backend\": \"mpi\""), runJson);
        List<Path> saved = Checkpoints.list(run);
        assertEquals(5, Checkpoints.step(saved.get(saved.size() - 1)), "the last checkpoint");
        Run before = read(run);
        int logged = Math.min(7, before.steps.size()); // step 7's line may be cut off by the job's end
        assertTrue(logged >= 5, "process 0 logged the steps up to its checkpoint");
        assertSameSteps(new Run(local2.steps.subList(0, logged), null), new Run(before.steps.subList(0, logged), null), 0,
                "data=2 over MPI, steps before the death");
        assertTrue(((Number) before.steps.get(0).get("comm_bytes")).longValue() > 0);

        // its checkpoint of step 5 resumes in one process: bitwise the uninterrupted run
        Run resumed = inProcess(run, STEPS, true, "parallel.data=2");
        assertSameSteps(local2, resumed, 0, "MPI checkpoint resumed in one process");
        assertArrayEquals(local2.weights, resumed.weights);

        // and a checkpoint written in one process resumes over MPI: bitwise again
        Path half = dir.resolve("half");
        inProcess(half, 5, false, "parallel.data=2");
        Mpirun.Result again = overMpi(2, half, other, STEPS, "resume", -1, -1, "parallel.data=2");
        assertFinishedWithOneReplica(again, 2, other);
        Run continued = read(half);
        assertSameSteps(local2, continued, 0, "in-process checkpoint resumed over MPI");
        assertArrayEquals(local2.weights, continued.weights, "final weights, written by process 0");
    }
}
