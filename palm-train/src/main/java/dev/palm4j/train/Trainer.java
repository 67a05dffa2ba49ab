package dev.palm4j.train;

import dev.palm4j.core.InputException;
import dev.palm4j.core.bench.FmaPeak;
import dev.palm4j.core.generate.Generator;
import dev.palm4j.core.generate.Sampler;
import dev.palm4j.core.kernels.Parallel;
import dev.palm4j.core.kernels.Simd;
import dev.palm4j.core.model.PalmConfig;
import dev.palm4j.core.model.ModelGroup;
import dev.palm4j.core.model.PalmModel;
import dev.palm4j.core.model.ParamLayout;
import dev.palm4j.core.tokenizer.Tokenizer;
import dev.palm4j.train.checkpoint.Checkpoint;
import dev.palm4j.train.checkpoint.Checkpoints;
import dev.palm4j.train.checkpoint.Retention;
import dev.palm4j.train.config.FaultConfig;
import dev.palm4j.train.config.OptimizerConfig;
import dev.palm4j.train.config.ParallelConfig;
import dev.palm4j.train.config.RunConfig;
import dev.palm4j.train.config.ScheduleConfig;
import dev.palm4j.train.optim.AdamW;
import dev.palm4j.train.optim.Adafactor;
import dev.palm4j.train.optim.LrSchedule;
import dev.palm4j.train.parallel.Collectives;
import dev.palm4j.train.parallel.Communicator;
import dev.palm4j.train.parallel.DeviceMesh;
import dev.palm4j.train.parallel.DeviceWorker;
import dev.palm4j.train.parallel.Link;
import dev.palm4j.train.parallel.MeshDispatch;
import dev.palm4j.train.parallel.MpiCommunicator;
import dev.palm4j.train.parallel.SimulatedDevice;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The training loop: for each step, the batch at the current data position (split into
 * {@code grad_accum} micro-batches), forward and backward, global-norm clipping, one optimizer
 * update at the scheduled learning rate; evaluation, samples and checkpoints at their intervals;
 * one {@code metrics.jsonl} line per step. A step whose loss or gradient norm is not finite is
 * skipped (no update) and logged; a run of them stops the run with a clear message.
 *
 * <p>Every run is a mesh of simulated devices ({@code parallel: data x model}; 1x1 is one device,
 * through the same code): this class is the single controller (Pathways style) that dispatches
 * each device's part of a step as a task and collects the results; the devices talk to each
 * other only through collectives. Checkpoints hold full tensors, so a run saved on one mesh
 * resumes on any other.
 *
 * <p>With {@code parallel.backend: mpi} the data axis spans processes started by mpirun, one per
 * data rank: each process runs a Trainer over its own devices (its data rank's model ranks), and
 * the Trainers agree through collectives over the processes: losses and statistics are summed in
 * rank order, so every process takes the same decisions (skip, roll back, stop). Process 0 alone
 * touches the run directory: it writes config.yaml, run.json, metrics.jsonl and checkpoints, and
 * reads checkpoints, whose tensors it broadcasts to the others (docs/distributed.md).
 *
 * <p>Determinism: the batch of a data position depends only on the seed and the position, every
 * kernel is bitwise reproducible, and a checkpoint holds the weights, the optimizer state, the
 * step and the data position, so a resumed run is bitwise identical to one that never stopped.
 */
public final class Trainer implements AutoCloseable {

    /** Consecutive non-finite steps after which the run stops instead of skipping. */
    static final int MAX_BAD_STEPS = 10;

    /** Device failures a run survives before it gives up. */
    static final int MAX_RECOVERIES = 20;

    /** How to start: fresh, resumed from the run directory, or from another checkpoint's weights. */
    public record Options(Path runDir, boolean resume, Path initFrom, double peakGflops, String version) {
        public Options {
            if (resume && initFrom != null)
                throw new InputException("--resume and --init-from cannot be combined",
                        "--resume continues this run; --init-from starts a new run from other weights");
        }
    }

    /**
     * What the run will do and cost, reported before the first step. Memory is per device (the
     * largest device's, by category); {@code deviceMemory} lists every device's, of this process.
     * {@code threads} are this process's kernel threads, shared by its devices.
     */
    public record Plan(RunConfig config, long startStep, long totalSteps, long parameters, long paramBytes,
                       long gradBytes, long optimizerBytes, long activationBytes, int threads, double peakGflops,
                       double flopsPerToken, boolean hasValidation, List<Map<SimulatedDevice.Memory, Long>> deviceMemory) {
        public long totalBytes() {
            return paramBytes + gradBytes + optimizerBytes + activationBytes;
        }
    }

    /**
     * One step's numbers, as written to metrics.jsonl. Communication (zero on one device): bytes
     * all devices sent, the slowest device's time on the link model (simulated), its copy-engine
     * time (measured) and the part of that backward waited for (the rest overlapped with compute).
     */
    public record StepMetrics(long step, long totalSteps, double loss, double ce, double lr, double gradNorm,
                              double tokensPerSecond, double mfu, double stepSeconds, boolean skipped,
                              double computeSeconds, long commBytes, double linkSeconds, double commSeconds,
                              double commWaitSeconds) {}

    private final RunConfig cfg;
    private final Options opt;
    private final TrainListener listener;
    private final Parallel par;          // the host's threads: data preparation, samples
    private final TrainData data;
    private final ParamLayout fullLayout; // what checkpoints hold
    private final Communicator processes; // the run's processes (one unless parallel.backend = mpi); 0 leads
    private final boolean leader;          // process 0: the only one that touches the run directory
    private final DeviceMesh mesh;
    private final MeshDispatch dispatch;  // runs tasks on the devices; holds their workers
    private final LrSchedule schedule;
    private final Tokenizer tokenizer;
    private final double peakGflops;
    private MetricsLog metrics;           // null except on the leader
    private int recoveries;
    private final java.util.ArrayDeque<Double> recentLosses = new java.util.ArrayDeque<>();
    private final java.util.Set<FaultConfig> firedFaults = new java.util.HashSet<>();
    private long step, dataPosition;
    private int badSteps;
    private volatile boolean stopRequested;
    private boolean stopAgreed;            // some process was asked to stop (summed in trainStep)
    private double bestVal = Double.POSITIVE_INFINITY, lastVal = Double.NaN;

    public Trainer(RunConfig cfg, Options opt, TrainListener listener) {
        this.cfg = cfg;
        this.opt = opt;
        this.listener = listener == null ? new TrainListener() {} : listener;
        var p = cfg.parallel();
        MpiCommunicator world = p.backend() == ParallelConfig.Backend.MPI ? mpiWorld(p) : null;
        this.processes = world == null ? Communicator.single() : world.dup(null);
        this.leader = processes.rank() == 0;
        for (double[] bits : gather(new double[] {Simd.bits()})) // replicas must compute alike
            if (bits[0] != Simd.bits())
                throw new InputException("the processes of this run compute with different vector widths (" + (int) bits[0] + " and "
                        + Simd.bits() + " bits)", "give every host the same width: PALM_JAVA_OPTS=-Dpalm4j.vector.bits=256");
        requireHeap(cfg);
        int threads = world == null ? cfg.train().threads() : mpiThreads(cfg.train().threads());
        this.par = Parallel.of(threads);
        boolean restoring = fromLeader(leader && RunDirectory.prepare(opt.runDir(), opt.resume()));
        this.data = openData();
        this.tokenizer = data.tokenizer() == null ? null : Tokenizer.load(data.tokenizer());
        this.fullLayout = new ParamLayout(cfg.model());
        if (world == null) this.mesh = new DeviceMesh(meshSpec(cfg, threads));
        else {
            List<Communicator> dataAxes = new ArrayList<>();
            for (int m = 0; m < p.model(); m++) dataAxes.add(world.dup(meshSpec(cfg, threads).dataLink()));
            this.mesh = new DeviceMesh(meshSpec(cfg, threads), world.rank(), dataAxes);
        }
        this.dispatch = new MeshDispatch(mesh, this::newWorker, cfg.parallel().timeoutSeconds(), processes.size() > 1);
        try {
            onEveryDevice(w -> null, true);
        } catch (RuntimeException e) {
            mesh.close();
            par.close();
            throw e;
        }
        this.schedule = schedule(cfg.schedule());
        long keepUpTo = 0;
        if (restoring) keepUpTo = restore(opt.runDir());
        else if (opt.resume()) this.listener.onMessage("no checkpoint in " + opt.runDir() + " yet: starting it again from step 0");
        else if (opt.initFrom() != null) initFrom(opt.initFrom());
        this.peakGflops = opt.peakGflops() > 0 ? opt.peakGflops() : measurePeak(threads);
        if (leader) {
            RunDirectory.writeConfig(opt.runDir(), cfg);
            RunDirectory.writeRunInfo(opt.runDir(), opt.version(), threads, peakGflops, cfg);
            this.metrics = MetricsLog.open(opt.runDir(), keepUpTo);
        }
        if (restoring) writeMetrics(event("resume", fields("data_position", dataPosition)));
    }

    // The processes mpirun started: as many as data ranks, with the thread support the mesh needs.
    private static MpiCommunicator mpiWorld(ParallelConfig p) {
        MpiCommunicator world = MpiCommunicator.world();
        if (world.size() != p.data())
            throw new InputException("parallel.data = " + p.data() + " but mpirun started " + world.size() + " process"
                    + (world.size() == 1 ? "" : "es"), "each process is one data rank: pass mpirun -np " + p.data()
                    + ", or --set parallel.data=" + world.size());
        int need = p.model() > 1 ? MpiCommunicator.MPI_THREAD_MULTIPLE : MpiCommunicator.MPI_THREAD_SERIALIZED;
        if (MpiCommunicator.threadLevel() < need)
            throw new InputException("this Open MPI grants thread level " + MpiCommunicator.threadLevel() + " but parallel.model = "
                    + p.model() + " over MPI needs " + need + (need == MpiCommunicator.MPI_THREAD_MULTIPLE
                    ? " (MPI_THREAD_MULTIPLE: every model rank reduces over its own communicator at once)" : " (MPI_THREAD_SERIALIZED)"),
                    "use an Open MPI built with thread support (Debian's is)" + (p.model() > 1 ? ", or parallel.model = 1" : ""));
        return world;
    }

    /**
     * Kernel threads of one process over MPI: {@code train.threads}, at most this process's share
     * of its host: the CPUs mpirun bound it to (by default a core each for up to 2 processes, a
     * socket beyond), or, unbound, the host's CPUs divided among the job's processes on it.
     */
    static int mpiThreads(int configured) {
        int mine = Runtime.getRuntime().availableProcessors(), host = onlineCpus(mine);
        int share = mine < host ? mine : mine / MpiCommunicator.localSize();
        return Math.max(1, Math.min(configured, share));
    }

    // CPUs online on this host (Linux: /sys/devices/system/cpu/online, as "0-3,8-11"); else fallback
    private static int onlineCpus(int fallback) {
        try {
            int n = 0;
            for (String range : java.nio.file.Files.readString(Path.of("/sys/devices/system/cpu/online")).trim().split(",")) {
                String[] ab = range.split("-");
                n += ab.length == 1 ? 1 : Integer.parseInt(ab[1]) - Integer.parseInt(ab[0]) + 1;
            }
            return n;
        } catch (IOException | RuntimeException e) {
            return fallback;
        }
    }

    // The leader's value of a flag, on every process.
    private boolean fromLeader(boolean flag) {
        double[] v = {flag ? 1 : 0};
        processes.broadcast(0, v, 0, 1);
        return v[0] != 0;
    }

    // Over MPI, processes sharing a data cache must not prepare it at once: process 0 first, then
    // the first process of every other host (a host without a shared file system prepares its
    // own), then the rest, which find it ready.
    private TrainData openData() {
        if (processes.size() == 1) return TrainData.open(cfg, par, listener::onMessage);
        int turn = leader ? 0 : MpiCommunicator.localRank() == 0 ? 1 : 2;
        TrainData d = null;
        for (int t = 0; t < 3; t++) {
            if (turn == t) d = TrainData.open(cfg, par, listener::onMessage);
            processes.barrier();
        }
        return d;
    }

    // The FMA peak of the run: each process measures its threads at the same moment, summed.
    private double measurePeak(int threads) {
        processes.barrier();
        double[] peak = {FmaPeak.measure(threads, 5, 2.0).gflops()};
        processes.allReduce(peak, 0, 1);
        return peak[0];
    }

    private void writeMetrics(Map<String, Object> line) {
        if (metrics != null) metrics.write(line);
    }

    // after a rollback or recovery: drops metric lines after step keepUpTo
    private void reopenMetrics(long keepUpTo) {
        if (metrics == null) return;
        metrics.close();
        metrics = MetricsLog.open(opt.runDir(), keepUpTo);
    }

    /**
     * Every process's {@code mine}, by rank: each fills its own slot of a zeroed vector and the
     * vector is summed (adding zeros is exact), so every process gets the same values.
     */
    private double[][] gather(double[] mine) {
        int n = processes.size(), k = mine.length;
        if (n == 1) return new double[][] {mine};
        double[] all = new double[n * k];
        System.arraycopy(mine, 0, all, processes.rank() * k, k);
        processes.allReduce(all, 0, all.length);
        double[][] out = new double[n][k];
        for (int r = 0; r < n; r++) System.arraycopy(all, r * k, out[r], 0, k);
        return out;
    }

    /**
     * Fails before anything is allocated when parameters, gradients, optimizer state and one
     * micro-batch of activations cannot fit the heap: better at start than mid-run.
     */
    static void requireHeap(RunConfig cfg) {
        var t = cfg.train();
        var p = cfg.parallel();
        ParamLayout shard = new ParamLayout(cfg.model(), 0, p.model());
        long acts = PalmModel.activationFloats(shard, t.batchSize() / t.gradAccum() / p.data(), t.seqLen());
        // per device of this process: weights, gradients, two optimizer states, activations; on the host: a checkpoint's full tensors
        long need = 4 * (p.devicesPerProcess() * (4L * shard.size() + acts) + 3L * new ParamLayout(cfg.model()).size());
        long heap = Runtime.getRuntime().maxMemory();
        if (need > 0.9 * heap)
            throw new InputException(String.format(java.util.Locale.ROOT,
                    "this run needs about %.2f GB (weights, gradients, optimizer state, activations) but the heap is %.2f GB",
                    need / 1e9, heap / 1e9), String.format(java.util.Locale.ROOT,
                    "raise it with PALM_JAVA_OPTS=-Xmx%dg, or lower train.batch_size (or raise train.grad_accum) or the model size",
                    (long) Math.ceil(need / 0.8 / 1e9)));
    }

    static DeviceMesh.Spec meshSpec(RunConfig cfg, int threads) {
        var p = cfg.parallel();
        return new DeviceMesh.Spec(p.data(), p.model(), threads, (long) (p.deviceMemoryMb() * 1e6),
                Link.of(p.modelLink().latencyMicros(), p.modelLink().gigabytesPerSecond()),
                Link.of(p.dataLink().latencyMicros(), p.dataLink().gigabytesPerSecond()), p.timeoutSeconds());
    }

    private static DeviceWorker.OptimizerFactory optimizers(OptimizerConfig o) {
        return (tensors, par, sum) -> switch (o.kind()) {
            case ADAMW -> new AdamW(tensors, par, new AdamW.Settings(o.beta1(), o.beta2(), o.eps(), o.weightDecay()));
            case ADAFACTOR -> new Adafactor(tensors, par, new Adafactor.Settings(o.beta1(), 0.8, o.eps(), 1e-3, 1.0, 1.0), sum);
        };
    }

    // Builds device id's worker on its own thread: its shard of the model, initialised from the seed.
    private DeviceWorker newWorker(SimulatedDevice dev) {
        var t = cfg.train();
        return new DeviceWorker(mesh, dev, cfg.model(), data.train(), t.batchSize(), t.seqLen(), t.gradAccum(),
                cfg.parallel().shardOptimizer(), t.seed(), 2, optimizers(cfg.optimizer()));
    }

    // task on every device at once (MeshDispatch), building every worker first when create
    private <T> List<T> onEveryDevice(MeshDispatch.DeviceTask<T> task, boolean create) {
        boolean[] all = new boolean[mesh.size()];
        java.util.Arrays.fill(all, create);
        return dispatch.onEveryDevice(task, all);
    }

    /**
     * After devices failed: replaces them (the mesh keeps its shape), restores every device from
     * the newest valid checkpoint (or the initial weights when there is none yet), and records
     * the failure and the recovery time as events. The run then replays the lost steps and,
     * being deterministic, ends bitwise where a fault-free run ends.
     */
    private void recover(MeshDispatch.MeshFailure f, long failedStep) {
        long t0 = System.nanoTime();
        if (++recoveries > MAX_RECOVERIES)
            throw new InputException("the mesh failed " + recoveries + " times in this run (last: " + f.failed + " at step " + failedStep + ")",
                    "check the faults: section of the config, or resume the run with --resume", f);
        boolean[] fresh = new boolean[mesh.size()];
        for (int id : f.failed.keySet()) {
            mesh.replace(id);
            fresh[id] = true;
        }
        mesh.reconnect();
        dispatch.onEveryDevice(w -> null, fresh);
        boolean restored;
        try {
            restored = Checkpoints.list(opt.runDir()).size() > 0;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        if (restored) restore(opt.runDir());
        else {
            restoreInitial();
        }
        reopenMetrics(step);
        double seconds = (System.nanoTime() - t0) / 1e9;
        for (Map.Entry<Integer, String> e : f.failed.entrySet())
            writeMetrics(event("device_failure", fields("device", e.getKey(), "kind", e.getValue(), "failed_at_step", failedStep)));
        writeMetrics(event("recovered", fields("devices", new ArrayList<>(f.failed.keySet()), "seconds", seconds,
                "from", restored ? "checkpoint" : "initial weights")));
        listener.onMessage(String.format(java.util.Locale.ROOT,
                "device failure at step %d: %s; replaced, restored every device from %s at step %d in %.2f s",
                failedStep, f.failed, restored ? "the last checkpoint" : "the initial weights", step, seconds));
    }

    /** The full parameters (single-device layout), gathered from the devices. */
    public float[] weights() {
        float[] full = new float[fullLayout.size()];
        onEveryDevice(w -> {
            w.saveParams(fullLayout, full);
            return null;
        }, false);
        return full;
    }

    static LrSchedule schedule(ScheduleConfig s) {
        return switch (s.kind()) {
            case CONSTANT -> s.warmupSteps() > 0 ? LrSchedule.warmupCosine(s.lr(), s.warmupSteps(), Long.MAX_VALUE, s.lr())
                    : LrSchedule.constant(s.lr());
            case WARMUP_COSINE -> LrSchedule.warmupCosine(s.lr(), s.warmupSteps(), s.totalSteps(), s.minLr());
            case PALM -> LrSchedule.palm(s.lr(), s.constantSteps(), s.warmupSteps());
        };
    }

    // Loads a checkpoint (or the newest valid one of a run directory); returns its step. Over MPI
    // the leader reads it (the others ignore path) and broadcasts its contents.
    private long restore(Path path) {
        Checkpoints.Loaded l = null;
        double[] head = {0, 0, Double.NaN}; // step, data position, best validation loss
        if (leader) {
            try {
                l = Checkpoints.load(path);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            Checkpoint c = l.checkpoint();
            for (String s : l.skipped()) listener.onMessage("skipped checkpoint: " + s);
            requireSameModel(c.config(), l.dir());
            head[0] = c.step();
            head[1] = c.dataPosition();
            if (c.trainState().get("best_val_loss") instanceof Number n) head[2] = n.doubleValue();
        }
        processes.broadcast(0, head, 0, head.length);
        load(l == null ? null : l.checkpoint().params(), l == null ? null : l.checkpoint().optimizer(), true);
        step = (long) head[0];
        dataPosition = (long) head[1];
        if (!Double.isNaN(head[2])) bestVal = head[2];
        if (l != null && l.state().vectorBits() != Simd.bits())
            listener.onMessage("note: the checkpoint was written with " + l.state().vectorBits() + "-bit vectors and this run uses "
                    + Simd.bits() + "-bit ones: results will not be bitwise identical to an uninterrupted run");
        if (l != null) listener.onMessage("resumed from " + l.dir() + " at step " + step);
        return step;
    }

    private void initFrom(Path path) {
        Checkpoints.Loaded l = null;
        if (leader) {
            try {
                l = Checkpoints.loadModel(path);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            requireSameModel(l.checkpoint().config(), l.dir());
        }
        load(l == null ? null : l.checkpoint().params(), null, false);
        if (l != null) listener.onMessage("initialised from the weights of " + l.dir() + " (fresh optimizer and schedule)");
    }

    /**
     * The leader's full weights (and optimizer state, when {@code withOptimizer}) to every
     * process: broadcast over the processes; the arguments are ignored on the others.
     */
    private void load(float[] params, Map<String, float[]> optimizerState, boolean withOptimizer) {
        if (processes.size() == 1) {
            load(params, optimizerState);
            return;
        }
        List<String> names = new ArrayList<>();
        for (String name : dispatch.worker(0).optimizerStateNames()) names.add(name);
        if (leader && withOptimizer && !optimizerState.keySet().equals(new java.util.HashSet<>(names)))
            throw new InputException("the checkpoint's optimizer state holds " + optimizerState.keySet() + " but this run's optimizer keeps "
                    + names, "resume with the optimizer.kind the checkpoint was written with");
        int n = fullLayout.size();
        if (leader && params.length != n)
            throw new IllegalArgumentException("weights hold " + params.length + " floats; the model has " + n);
        float[] p = leader ? params : new float[n];
        processes.broadcast(0, p, 0, n);
        Map<String, float[]> o = null;
        if (withOptimizer) {
            o = new LinkedHashMap<>();
            for (String name : names) {
                float[] a = leader ? optimizerState.get(name) : new float[n];
                if (a.length != n) throw new IllegalArgumentException(name + " holds " + a.length + " floats; the model has " + n);
                processes.broadcast(0, a, 0, n);
                o.put(name, a);
            }
        }
        load(p, o);
    }

    // full weights (and optimizer state, when not null) from the host to every device's slice
    private void load(float[] params, Map<String, float[]> optimizerState) {
        if (params.length != fullLayout.size())
            throw new IllegalArgumentException("weights hold " + params.length + " floats; the model has " + fullLayout.size());
        onEveryDevice(w -> {
            w.load(fullLayout, params, optimizerState);
            return null;
        }, false);
    }

    // back to step 0: the seed's initial weights, a zero optimizer state, the first batch
    private void restoreInitial() {
        Map<String, float[]> zeros = new LinkedHashMap<>();
        for (String name : dispatch.worker(0).optimizerStateNames()) zeros.put(name, new float[fullLayout.size()]);
        load(new PalmModel(cfg.model(), Parallel.SERIAL, cfg.train().seed()).params(), zeros);
        step = 0;
        dataPosition = 0;
    }

    private void requireSameModel(PalmConfig saved, Path where) {
        if (!saved.equals(cfg.model()))
            throw new InputException("the checkpoint " + where + " holds a different model (" + saved + ") than the config ("
                    + cfg.model() + ")", "train with the config the checkpoint was made with");
    }

    /** What the run will cost; also printed by the CLI before training. */
    public Plan plan() {
        List<Map<SimulatedDevice.Memory, Long>> mem = new ArrayList<>();
        long[] most = new long[SimulatedDevice.Memory.values().length];
        for (int i = 0; i < mesh.size(); i++) {
            Map<SimulatedDevice.Memory, Long> m = mesh.device(i).memory();
            mem.add(m);
            for (SimulatedDevice.Memory k : SimulatedDevice.Memory.values()) most[k.ordinal()] = Math.max(most[k.ordinal()], m.get(k));
        }
        return new Plan(cfg, step, cfg.train().steps(), cfg.model().parameterCount(), most[0], most[1], most[2], most[3],
                par.width(), peakGflops, cfg.model().flopsPerToken(cfg.train().seqLen()), data.val() != null,
                List.copyOf(mem));
    }

    /** Trains until step {@code train.steps}; returns the final metrics of the last step run (null if none). */
    public StepMetrics run() {
        var t = cfg.train();
        long total = t.steps();
        listener.onStart(plan());
        StepMetrics last = null;
        while (step < total) {
            try {
                last = trainStep();
            } catch (MeshDispatch.MeshFailure f) {
                recover(f, step + 1);
                continue;
            }
            long k = last.step();
            if (spikeRollback(last)) continue;
            Map<String, Object> line = new LinkedHashMap<>();
            line.put("step", k);
            line.put("loss", finiteOrNull(last.loss()));
            line.put("ce", finiteOrNull(last.ce()));
            line.put("lr", last.lr());
            line.put("grad_norm", finiteOrNull(last.gradNorm()));
            line.put("tokens_per_s", last.tokensPerSecond());
            line.put("mfu", last.mfu());
            if (mesh.spec.devices() > 1) {
                line.put("compute_s", last.computeSeconds());
                line.put("comm_bytes", last.commBytes());
                line.put("link_s", last.linkSeconds());
                line.put("comm_s", last.commSeconds());
                line.put("comm_wait_s", last.commWaitSeconds());
            }
            boolean evalNow = data.val() != null && t.evalInterval() > 0 && (k % t.evalInterval() == 0 || k == total);
            if (evalNow) {
                double[] v = evaluate();
                lastVal = v[0];
                bestVal = Math.min(bestVal, v[0]);
                line.put("val_loss", v[0]);
                line.put("val_ce", v[1]);
                listener.onEval(k, v[0], v[1]);
            }
            writeMetrics(line);
            listener.onStep(last);
            // A sample at its interval and with every evaluation, so each validation loss comes with text.
            if (leader && tokenizer != null && t.sampleInterval() > 0 && (k % t.sampleInterval() == 0 || evalNow || k == total))
                sample(k);
            boolean saved = (t.checkpointInterval() > 0 && k % t.checkpointInterval() == 0) || k == total;
            if (saved) checkpoint(evalNow);
            if ((processes.size() > 1 ? stopAgreed : stopRequested) && k < total) {
                if (!saved) checkpoint(evalNow);
                writeMetrics(event("stop", fields("reason", "requested")));
                listener.onMessage("stopped at step " + k + " with a checkpoint: --resume continues from here");
                break;
            }
        }
        return last;
    }

    /**
     * PaLM's loss-spike rule ({@code spikes:}): a step whose loss passes factor x the median of
     * the recent ones rolls the run back to a checkpoint about rollback_steps earlier, skips
     * skip_batches batches from there, and drops the abandoned checkpoints and metric lines.
     * Returns whether it rolled back (the step is then not logged).
     */
    private boolean spikeRollback(StepMetrics m) {
        var sp = cfg.spikes();
        if (!sp.enabled() || m.skipped()) return false;
        double median = Double.NaN;
        if (recentLosses.size() >= Math.max(2, sp.window() / 2)) {
            double[] sorted = recentLosses.stream().mapToDouble(Double::doubleValue).sorted().toArray();
            int n = sorted.length;
            median = n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
        }
        if (!(m.loss() > sp.factor() * median)) {
            recentLosses.addLast(m.loss());
            if (recentLosses.size() > sp.window()) recentLosses.removeFirst();
            return false;
        }
        long spikeStep = m.step();
        Path to = null;
        if (leader) { // the leader picks the checkpoint (every process saw the same spike)
            try {
                List<Path> saved = Checkpoints.list(opt.runDir());
                for (Path p : saved) if (Checkpoints.step(p) <= spikeStep - sp.rollbackSteps()) to = p; // newest far enough back
                if (to == null && !saved.isEmpty() && Checkpoints.step(saved.get(0)) < spikeStep) to = saved.get(0); // else the oldest
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        if (fromLeader(to != null)) restore(to);
        else {
            restoreInitial();
        }
        if (leader) {
            try {
                Checkpoints.discardAfter(opt.runDir(), step);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        dataPosition += sp.skipBatches();
        recentLosses.clear();
        reopenMetrics(step);
        writeMetrics(event("rollback", fields("spike_step", spikeStep, "loss", m.loss(), "median", median,
                "to_step", step, "skipped_batches", sp.skipBatches(), "data_position", dataPosition)));
        listener.onMessage(String.format(java.util.Locale.ROOT,
                "loss spike at step %d: %.4f > %.1f x median %.4f; rolled back to step %d and skipped %d batches",
                spikeStep, m.loss(), sp.factor(), median, step, sp.skipBatches()));
        return true;
    }

    /**
     * Asks {@link #run} to stop after the step in progress, writing a checkpoint first (Ctrl-C
     * or SIGTERM in the CLI). Safe to call from any thread; a resumed run continues bitwise.
     */
    public void requestStop() {
        stopRequested = true;
    }

    /**
     * One optimizer step and nothing else (no evaluation, metrics line or checkpoint): the batch
     * at the current data position in {@code grad_accum} micro-batches, clipping, the update.
     * {@code palm bench train} times exactly this.
     */
    public StepMetrics trainStep() {
        var t = cfg.train();
        int B = t.batchSize(), T = t.seqLen();
        long t0 = System.nanoTime();
        long k = step + 1, position = dataPosition;
        String[] faults = new String[mesh.spec.devices()];
        for (FaultConfig f : cfg.faults()) {
            if (f.step() != k || !firedFaults.add(f)) continue;
            String kind = f.kind().name().toLowerCase(java.util.Locale.ROOT);
            if (f.onDevice()) faults[f.device()] = kind;
            else java.util.Arrays.fill(faults, kind);
        }
        List<DeviceWorker.Backward> r = onEveryDevice(w -> w.backward(position, faults[w.device.id], k), false);
        dataPosition++;
        // every data rank's share, from its model rank 0 (the model ranks of a replica agree), in
        // rank order: this process's data ranks, then the processes' sums in rank order; the
        // slowest device's times; whether any process was asked to stop
        int model = mesh.spec.model();
        double[] mine = new double[7];
        for (int d = 0; d < mesh.size() / model; d++) {
            DeviceWorker.Backward b = r.get(d * model);
            mine[0] += b.lossSum();
            mine[1] += b.ceSum();
            mine[2] += b.tokens();
        }
        for (DeviceWorker.Backward b : r) {
            mine[3] = Math.max(mine[3], b.computeSeconds());
            mine[4] = Math.max(mine[4], b.commSeconds());
            mine[5] = Math.max(mine[5], b.commWaitSeconds());
        }
        mine[6] = stopRequested ? 1 : 0;
        double lossSum = 0, ceSum = 0, compute = 0, comm = 0, wait = 0;
        long tokens = 0;
        boolean stop = false;
        for (double[] x : gather(mine)) {
            lossSum += x[0];
            ceSum += x[1];
            tokens += (long) x[2];
            compute = Math.max(compute, x[3]);
            comm = Math.max(comm, x[4]);
            wait = Math.max(wait, x[5]);
            stop |= x[6] != 0;
        }
        stopAgreed = stop;
        double loss = lossSum / tokens, ce = ceSum / tokens, norm = r.get(0).gradNorm();
        double lr = schedule.lr(k);
        boolean skipped = !Double.isFinite(loss) || !Double.isFinite(norm);
        double clip = cfg.optimizer().gradClip();
        onEveryDevice(w -> w.update(k, lr, norm, clip, skipped), false);
        if (skipped) {
            badSteps++;
            writeMetrics(event("skipped_step", fields("step", k, "loss", finiteOrNull(loss), "grad_norm", finiteOrNull(norm))));
            listener.onMessage("step " + k + ": loss " + loss + ", gradient norm " + norm + ": skipped (no update)");
            if (badSteps >= MAX_BAD_STEPS)
                throw new InputException("training diverged: " + badSteps + " steps in a row had a non-finite loss or gradient (last at step "
                        + k + ")", "lower schedule.lr, keep optimizer.grad_clip on, or resume from an earlier checkpoint");
        } else {
            badSteps = 0;
        }
        step = k;
        long bytes = 0;
        double link = 0;
        for (int i = 0; i < mesh.size(); i++) {
            double devLink = 0;
            for (Collectives.Traffic x : mesh.takeTraffic(mesh.device(i))) {
                bytes += x.bytes();
                devLink += x.linkSeconds();
            }
            link = Math.max(link, devLink);
        }
        if (processes.size() > 1) { // every device of every process
            double[][] all = gather(new double[] {bytes, link});
            bytes = 0;
            link = 0;
            for (double[] x : all) {
                bytes += (long) x[0];
                link = Math.max(link, x[1]);
            }
        }
        double sec = (System.nanoTime() - t0) / 1e9;
        double tps = (double) B * T / sec;
        double mfu = cfg.model().flopsPerToken(T) * tps / (peakGflops * 1e9);
        return new StepMetrics(k, t.steps(), loss, ce, lr, norm, tps, mfu, sec, skipped, compute, bytes, link, comm, wait);
    }

    /** Mean loss and cross-entropy over the first {@code eval_batches} batches of the validation split, in order. */
    public double[] evaluate() {
        var t = cfg.train();
        long n = (long) t.evalBatches() * t.batchSize();
        List<double[]> r = onEveryDevice(w -> w.evaluate(data.val(), n), false);
        double[] mine = new double[3]; // this process's data ranks, then the processes in rank order
        for (int d = 0; d < mesh.size() / mesh.spec.model(); d++) {
            double[] x = r.get(d * mesh.spec.model());
            for (int i = 0; i < 3; i++) mine[i] += x[i];
        }
        double loss = 0, ce = 0, tokens = 0;
        for (double[] x : gather(mine)) {
            loss += x[0];
            ce += x[1];
            tokens += x[2];
        }
        return new double[] {loss / tokens, ce / tokens};
    }

    private void sample(long k) {
        var t = cfg.train();
        Generator g = new Generator(model(), tokenizer);
        int room = cfg.model().maxSeqLen() - tokenizer.encode(t.samplePrompt()).length;
        if (room < 1) return;
        Generator.Result r = g.generate(t.samplePrompt(), Math.min(t.sampleTokens(), room),
                new Sampler(0.8, 40, 1.0, k), List.of(), null);
        listener.onSample(k, t.samplePrompt(), r.textString());
    }

    private void checkpoint(boolean evaluated) {
        Map<String, Double> m = new LinkedHashMap<>();
        if (evaluated) m.put("val_loss", lastVal);
        Map<String, Object> state = new LinkedHashMap<>();
        if (Double.isFinite(bestVal)) state.put("best_val_loss", bestVal);
        state.put("seed", cfg.train().seed());
        float[] params = new float[fullLayout.size()];
        Map<String, float[]> optimizerState = new LinkedHashMap<>();
        for (String name : dispatch.worker(0).optimizerStateNames()) optimizerState.put(name, new float[fullLayout.size()]);
        onEveryDevice(w -> { // over MPI with ZeRO-1 every process takes part: the shards are gathered
            w.saveParams(fullLayout, params);
            w.saveOptimizer(fullLayout, optimizerState);
            return null;
        }, false);
        if (!mesh.dataAxisInProcess()) // the data-axis gather is no step's communication
            for (int i = 0; i < mesh.size(); i++) mesh.dataAxis(mesh.device(i)).takeTraffic();
        if (!leader) return;
        Checkpoint c = new Checkpoint(cfg.model(), params, optimizerState, step, dataPosition,
                new long[] {cfg.train().seed()}, state, m);
        Checkpoints.Saved s = Checkpoints.save(opt.runDir(), c, data.tokenizer(),
                new Retention(cfg.train().keepCheckpoints(), data.val() != null ? "val_loss" : null));
        for (String w : s.warnings()) listener.onMessage(w);
        writeMetrics(event("checkpoint", fields("dir", s.dir().getFileName().toString())));
        listener.onCheckpoint(step, s.dir());
    }

    private static Object finiteOrNull(double v) {
        return Double.isFinite(v) ? v : null;
    }

    // {"event": name, "step": current step, ...fields}; fields may hold nulls (written as null)
    private Map<String, Object> event(String name, Map<String, Object> fields) {
        Map<String, Object> e = new LinkedHashMap<>();
        e.put("event", name);
        e.put("step", step);
        e.putAll(fields);
        return e;
    }

    private static Map<String, Object> fields(Object... keyValues) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < keyValues.length; i += 2) m.put((String) keyValues[i], keyValues[i + 1]);
        return m;
    }

    /**
     * A single-device model holding the current weights, gathered from the mesh (for samples and
     * for library users); later training steps do not change it.
     */
    public PalmModel model() {
        PalmModel m = new PalmModel(cfg.model(), par, ModelGroup.SINGLE);
        m.loadWeights(weights());
        return m;
    }

    /** Times device 0's kernels into {@code p} from now on (null stops): {@code palm bench train}'s breakdown. */
    public void profile(dev.palm4j.core.model.KernelProfile p) {
        onEveryDevice(w -> {
            if (w.device.id == 0) w.model.profile(p);
            return null;
        }, false);
    }

    /** The mesh the run trains on. */
    public DeviceMesh mesh() {
        return mesh;
    }

    public long step() {
        return step;
    }

    @Override
    public void close() {
        // MPI communicators are left to MPI_Finalize: freeing one waits for the other processes,
        // which may be gone when this runs after an error
        if (metrics != null) metrics.close();
        mesh.close();
        par.close();
    }
}
