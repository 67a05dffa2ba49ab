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
import dev.palm4j.train.config.OptimizerConfig;
import dev.palm4j.train.config.RunConfig;
import dev.palm4j.train.config.ScheduleConfig;
import dev.palm4j.train.optim.AdamW;
import dev.palm4j.train.optim.Adafactor;
import dev.palm4j.train.optim.GradClip;
import dev.palm4j.train.optim.LrSchedule;
import dev.palm4j.train.parallel.DeviceMesh;
import dev.palm4j.train.parallel.DeviceWorker;
import dev.palm4j.train.parallel.Link;
import dev.palm4j.train.parallel.SimulatedDevice;
import dev.palm4j.train.parallel.Collectives;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;

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
 * <p>Determinism: the batch of a data position depends only on the seed and the position, every
 * kernel is bitwise reproducible, and a checkpoint holds the weights, the optimizer state, the
 * step and the data position, so a resumed run is bitwise identical to one that never stopped.
 */
public final class Trainer implements AutoCloseable {

    /** Consecutive non-finite steps after which the run stops instead of skipping. */
    static final int MAX_BAD_STEPS = 10;

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
     * largest device's, by category); {@code deviceMemory} lists every device's.
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
    private final DeviceMesh mesh;
    private final DeviceWorker[] workers; // by device id
    private final LrSchedule schedule;
    private final Tokenizer tokenizer;
    private final double peakGflops;
    private final MetricsLog metrics;
    private long step, dataPosition;
    private int badSteps;
    private volatile boolean stopRequested;
    private double bestVal = Double.POSITIVE_INFINITY, lastVal = Double.NaN;

    public Trainer(RunConfig cfg, Options opt, TrainListener listener) {
        this.cfg = cfg;
        this.opt = opt;
        this.listener = listener == null ? new TrainListener() {} : listener;
        requireHeap(cfg);
        int threads = cfg.train().threads();
        this.par = Parallel.of(threads);
        boolean restoring = RunDirectory.prepare(opt.runDir(), opt.resume());
        this.data = TrainData.open(cfg, par, this.listener::onMessage);
        this.tokenizer = data.tokenizer() == null ? null : Tokenizer.load(data.tokenizer());
        this.fullLayout = new ParamLayout(cfg.model());
        this.mesh = new DeviceMesh(meshSpec(cfg));
        this.workers = new DeviceWorker[mesh.size()];
        try {
            onEveryDevice(w -> null, true);
        } catch (RuntimeException e) {
            mesh.close();
            par.close();
            throw e;
        }
        this.schedule = schedule(cfg.schedule());
        long keepUpTo = 0;
        if (restoring) keepUpTo = restore();
        else if (opt.resume()) this.listener.onMessage("no checkpoint in " + opt.runDir() + " yet: starting it again from step 0");
        else if (opt.initFrom() != null) initFrom(opt.initFrom());
        this.peakGflops = opt.peakGflops() > 0 ? opt.peakGflops() : FmaPeak.measure(threads, 5, 2.0).gflops();
        RunDirectory.writeConfig(opt.runDir(), cfg);
        RunDirectory.writeRunInfo(opt.runDir(), opt.version(), threads, peakGflops, cfg);
        this.metrics = MetricsLog.open(opt.runDir(), keepUpTo);
        if (restoring) metrics.write(event("resume", fields("data_position", dataPosition)));
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
        // per device: weights, gradients, two optimizer states, activations; on the host: a checkpoint's full tensors
        long need = 4 * (p.devices() * (4L * shard.size() + acts) + 3L * new ParamLayout(cfg.model()).size());
        long heap = Runtime.getRuntime().maxMemory();
        if (need > 0.9 * heap)
            throw new InputException(String.format(java.util.Locale.ROOT,
                    "this run needs about %.2f GB (weights, gradients, optimizer state, activations) but the heap is %.2f GB",
                    need / 1e9, heap / 1e9), String.format(java.util.Locale.ROOT,
                    "raise it with PALM_JAVA_OPTS=-Xmx%dg, or lower train.batch_size (or raise train.grad_accum) or the model size",
                    (long) Math.ceil(need / 0.8 / 1e9)));
    }

    static DeviceMesh.Spec meshSpec(RunConfig cfg) {
        var p = cfg.parallel();
        return new DeviceMesh.Spec(p.data(), p.model(), cfg.train().threads(), (long) (p.deviceMemoryMb() * 1e6),
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

    /** A task for one device's worker. */
    @FunctionalInterface
    private interface DeviceTask<T> {
        T run(DeviceWorker w) throws Exception;
    }

    /**
     * Runs {@code task} on every device at once (each on its own thread) and returns the results
     * by device id. When one fails, every collective is cancelled so no device waits for it, the
     * others are awaited, and the first failure is thrown. {@code create}: build the workers first.
     */
    private <T> List<T> onEveryDevice(DeviceTask<T> task, boolean create) {
        List<Future<T>> futures = new ArrayList<>();
        for (int i = 0; i < mesh.size(); i++) {
            SimulatedDevice dev = mesh.device(i);
            int id = i;
            futures.add(dev.submit(() -> {
                if (create) workers[id] = newWorker(dev);
                return task.run(workers[id]);
            }));
        }
        List<T> out = new ArrayList<>();
        Throwable failure = null;
        for (Future<T> f : futures) {
            try {
                out.add(f.get());
            } catch (ExecutionException e) {
                if (failure == null) {
                    failure = e.getCause();
                    mesh.cancel();
                }
                out.add(null);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                mesh.cancel();
                throw new IllegalStateException("interrupted while waiting for the devices", e);
            }
        }
        if (failure == null) return out;
        mesh.reconnect();
        if (failure instanceof RuntimeException r) throw r;
        if (failure instanceof Error e) throw e;
        throw new IllegalStateException(failure);
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

    // Loads the newest valid checkpoint of the run directory; returns its step.
    private long restore() {
        Checkpoints.Loaded l;
        try {
            l = Checkpoints.load(opt.runDir());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        Checkpoint c = l.checkpoint();
        for (String s : l.skipped()) listener.onMessage("skipped checkpoint: " + s);
        requireSameModel(c.config(), l.dir());
        load(c.params(), c.optimizer());
        step = c.step();
        dataPosition = c.dataPosition();
        Object best = c.trainState().get("best_val_loss");
        if (best instanceof Number n) bestVal = n.doubleValue();
        if (l.state().vectorBits() != Simd.bits())
            listener.onMessage("note: the checkpoint was written with " + l.state().vectorBits() + "-bit vectors and this run uses "
                    + Simd.bits() + "-bit ones: results will not be bitwise identical to an uninterrupted run");
        listener.onMessage("resumed from " + l.dir() + " at step " + step);
        return step;
    }

    private void initFrom(Path path) {
        Checkpoints.Loaded l;
        try {
            l = Checkpoints.loadModel(path);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        requireSameModel(l.checkpoint().config(), l.dir());
        load(l.checkpoint().params(), null);
        listener.onMessage("initialised from the weights of " + l.dir() + " (fresh optimizer and schedule)");
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
                cfg.train().threads(), peakGflops, cfg.model().flopsPerToken(cfg.train().seqLen()), data.val() != null,
                List.copyOf(mem));
    }

    /** Trains until step {@code train.steps}; returns the final metrics of the last step run (null if none). */
    public StepMetrics run() {
        var t = cfg.train();
        long total = t.steps();
        listener.onStart(plan());
        StepMetrics last = null;
        while (step < total) {
            last = trainStep();
            long k = last.step();
            Map<String, Object> line = new LinkedHashMap<>();
            line.put("step", k);
            line.put("loss", finiteOrNull(last.loss()));
            line.put("ce", finiteOrNull(last.ce()));
            line.put("lr", last.lr());
            line.put("grad_norm", finiteOrNull(last.gradNorm()));
            line.put("tokens_per_s", last.tokensPerSecond());
            line.put("mfu", last.mfu());
            boolean evalNow = data.val() != null && t.evalInterval() > 0 && (k % t.evalInterval() == 0 || k == total);
            if (evalNow) {
                double[] v = evaluate();
                lastVal = v[0];
                bestVal = Math.min(bestVal, v[0]);
                line.put("val_loss", v[0]);
                line.put("val_ce", v[1]);
                listener.onEval(k, v[0], v[1]);
            }
            metrics.write(line);
            listener.onStep(last);
            // A sample at its interval and with every evaluation, so each validation loss comes with text.
            if (tokenizer != null && t.sampleInterval() > 0 && (k % t.sampleInterval() == 0 || evalNow || k == total)) sample(k);
            boolean saved = (t.checkpointInterval() > 0 && k % t.checkpointInterval() == 0) || k == total;
            if (saved) checkpoint(evalNow);
            if (stopRequested && k < total) {
                if (!saved) checkpoint(evalNow);
                metrics.write(event("stop", fields("reason", "requested")));
                listener.onMessage("stopped at step " + k + " with a checkpoint: --resume continues from here");
                break;
            }
        }
        return last;
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
        List<DeviceWorker.Backward> r = onEveryDevice(w -> w.backward(position), false);
        dataPosition++;
        // every data rank's share, from its model rank 0 (the model ranks of a replica agree), in rank order
        double lossSum = 0, ceSum = 0, compute = 0, comm = 0, wait = 0;
        long tokens = 0;
        for (int d = 0; d < mesh.spec.data(); d++) {
            DeviceWorker.Backward b = r.get(d * mesh.spec.model());
            lossSum += b.lossSum();
            ceSum += b.ceSum();
            tokens += b.tokens();
        }
        for (DeviceWorker.Backward b : r) {
            compute = Math.max(compute, b.computeSeconds());
            comm = Math.max(comm, b.commSeconds());
            wait = Math.max(wait, b.commWaitSeconds());
        }
        double loss = lossSum / tokens, ce = ceSum / tokens, norm = r.get(0).gradNorm();
        double lr = schedule.lr(k);
        boolean skipped = !Double.isFinite(loss) || !Double.isFinite(norm);
        double clip = cfg.optimizer().gradClip();
        onEveryDevice(w -> w.update(k, lr, norm, clip, skipped), false);
        if (skipped) {
            badSteps++;
            metrics.write(event("skipped_step", fields("step", k, "loss", finiteOrNull(loss), "grad_norm", finiteOrNull(norm))));
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
        double loss = 0, ce = 0, tokens = 0;
        for (int d = 0; d < mesh.spec.data(); d++) {
            double[] x = r.get(d * mesh.spec.model());
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
        for (String name : workers[0].optimizerStateNames()) optimizerState.put(name, new float[fullLayout.size()]);
        onEveryDevice(w -> {
            w.saveParams(fullLayout, params);
            w.saveOptimizer(fullLayout, optimizerState);
            return null;
        }, false);
        Checkpoint c = new Checkpoint(cfg.model(), params, optimizerState, step, dataPosition,
                new long[] {cfg.train().seed()}, state, m);
        Checkpoints.Saved s = Checkpoints.save(opt.runDir(), c, data.tokenizer(),
                new Retention(cfg.train().keepCheckpoints(), data.val() != null ? "val_loss" : null));
        for (String w : s.warnings()) listener.onMessage(w);
        metrics.write(event("checkpoint", fields("dir", s.dir().getFileName().toString())));
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

    /** The mesh the run trains on. */
    public DeviceMesh mesh() {
        return mesh;
    }

    public long step() {
        return step;
    }

    @Override
    public void close() {
        metrics.close();
        mesh.close();
        par.close();
    }
}
