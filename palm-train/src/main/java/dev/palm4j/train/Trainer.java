package dev.palm4j.train;

import dev.palm4j.core.InputException;
import dev.palm4j.core.bench.FmaPeak;
import dev.palm4j.core.generate.Generator;
import dev.palm4j.core.generate.Sampler;
import dev.palm4j.core.kernels.Parallel;
import dev.palm4j.core.kernels.Simd;
import dev.palm4j.core.model.PalmConfig;
import dev.palm4j.core.model.PalmModel;
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
import dev.palm4j.train.optim.Optimizer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
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

    /** What the run will do and cost, reported before the first step. */
    public record Plan(RunConfig config, long startStep, long totalSteps, long parameters, long paramBytes,
                       long gradBytes, long optimizerBytes, long activationBytes, int threads, double peakGflops,
                       double flopsPerToken, boolean hasValidation) {
        public long totalBytes() {
            return paramBytes + gradBytes + optimizerBytes + activationBytes;
        }
    }

    /** One step's numbers, as written to metrics.jsonl. */
    public record StepMetrics(long step, long totalSteps, double loss, double ce, double lr, double gradNorm,
                              double tokensPerSecond, double mfu, double stepSeconds, boolean skipped) {}

    private final RunConfig cfg;
    private final Options opt;
    private final TrainListener listener;
    private final Parallel par;
    private final TrainData data;
    private final PalmModel model;
    private final Optimizer optimizer;
    private final LrSchedule schedule;
    private final Tokenizer tokenizer;
    private final double peakGflops;
    private final MetricsLog metrics;
    private long step, dataPosition;
    private int badSteps;
    private volatile boolean stopRequested;
    private int[] rows, inputs, targets; // one micro-batch, reused every step
    private double bestVal = Double.POSITIVE_INFINITY, lastVal = Double.NaN;

    public Trainer(RunConfig cfg, Options opt, TrainListener listener) {
        this.cfg = cfg;
        this.opt = opt;
        this.listener = listener == null ? new TrainListener() {} : listener;
        if (cfg.parallel().data() * cfg.parallel().model() > 1)
            throw new InputException("parallel.data = " + cfg.parallel().data() + ", parallel.model = " + cfg.parallel().model()
                    + ": multi-device training is not part of this build", "set parallel.data and parallel.model to 1");
        requireHeap(cfg);
        int threads = cfg.train().threads();
        this.par = Parallel.of(threads);
        boolean restoring = RunDirectory.prepare(opt.runDir(), opt.resume());
        this.data = TrainData.open(cfg, par, this.listener::onMessage);
        this.tokenizer = data.tokenizer() == null ? null : Tokenizer.load(data.tokenizer());
        this.model = new PalmModel(cfg.model(), par, cfg.train().seed());
        this.optimizer = optimizer(cfg.optimizer(), model, par);
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
        long params = new dev.palm4j.core.model.ParamLayout(cfg.model()).size();
        long acts = PalmModel.activationFloats(cfg.model(), t.batchSize() / t.gradAccum(), t.seqLen());
        long need = 4 * (4 * params + acts); // weights, gradients, two optimizer states; activations
        long heap = Runtime.getRuntime().maxMemory();
        if (need > 0.9 * heap)
            throw new InputException(String.format(java.util.Locale.ROOT,
                    "this run needs about %.2f GB (weights, gradients, optimizer state, activations) but the heap is %.2f GB",
                    need / 1e9, heap / 1e9), String.format(java.util.Locale.ROOT,
                    "raise it with PALM_JAVA_OPTS=-Xmx%dg, or lower train.batch_size (or raise train.grad_accum) or the model size",
                    (long) Math.ceil(need / 0.8 / 1e9)));
    }

    private static Optimizer optimizer(OptimizerConfig o, PalmModel m, Parallel par) {
        return switch (o.kind()) {
            case ADAMW -> new AdamW(m.layout.tensors(), par, new AdamW.Settings(o.beta1(), o.beta2(), o.eps(), o.weightDecay()));
            case ADAFACTOR -> new Adafactor(m.layout.tensors(), par,
                    new Adafactor.Settings(o.beta1(), 0.8, o.eps(), 1e-3, 1.0, 1.0), null);
        };
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
        model.loadWeights(c.params());
        optimizer.load(c.optimizer());
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
        model.loadWeights(l.checkpoint().params());
        listener.onMessage("initialised from the weights of " + l.dir() + " (fresh optimizer and schedule)");
    }

    private void requireSameModel(PalmConfig saved, Path where) {
        if (!saved.equals(cfg.model()))
            throw new InputException("the checkpoint " + where + " holds a different model (" + saved + ") than the config ("
                    + cfg.model() + ")", "train with the config the checkpoint was made with");
    }

    /** What the run will cost; also printed by the CLI before training. */
    public Plan plan() {
        long p = model.params().length;
        long opt = 0;
        for (float[] s : optimizer.state().values()) opt += 4L * s.length;
        int micro = cfg.train().batchSize() / cfg.train().gradAccum();
        return new Plan(cfg, step, cfg.train().steps(), cfg.model().parameterCount(), 4 * p, 4 * p, opt,
                4 * model.activationFloats(micro, cfg.train().seqLen()), par.width(), peakGflops,
                cfg.model().flopsPerToken(cfg.train().seqLen()), data.val() != null);
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
        int B = t.batchSize(), T = t.seqLen(), accum = t.gradAccum(), micro = B / accum;
        if (rows == null) {
            rows = new int[micro * (T + 1)];
            inputs = new int[micro * T];
            targets = new int[micro * T];
        }
        long t0 = System.nanoTime();
        long k = step + 1;
        model.zeroGrads();
        double loss = 0, ce = 0;
        float gradScale = 1f / ((float) B * T);
        for (int m = 0; m < accum; m++) {
            data.train().fill(dataPosition, m, accum, rows);
            split(rows, micro, T, inputs, targets);
            PalmModel.Loss l = model.forwardBackward(inputs, targets, micro, T, gradScale);
            loss += l.loss() / accum;
            ce += l.ce() / accum;
        }
        dataPosition++;
        float[] g = model.grads();
        double norm = cfg.optimizer().gradClip() > 0
                ? GradClip.clipGlobalNorm(par, g, 0, g.length, cfg.optimizer().gradClip())
                : GradClip.globalNorm(par, g, 0, g.length);
        double lr = schedule.lr(k);
        boolean skipped = !Double.isFinite(loss) || !Double.isFinite(norm);
        if (skipped) {
            badSteps++;
            metrics.write(event("skipped_step", fields("step", k, "loss", finiteOrNull(loss), "grad_norm", finiteOrNull(norm))));
            listener.onMessage("step " + k + ": loss " + loss + ", gradient norm " + norm + ": skipped (no update)");
            if (badSteps >= MAX_BAD_STEPS)
                throw new InputException("training diverged: " + badSteps + " steps in a row had a non-finite loss or gradient (last at step "
                        + k + ")", "lower schedule.lr, keep optimizer.grad_clip on, or resume from an earlier checkpoint");
        } else {
            badSteps = 0;
            optimizer.step(model.params(), g, k, lr);
        }
        step = k;
        double sec = (System.nanoTime() - t0) / 1e9;
        double tps = (double) B * T / sec;
        double mfu = cfg.model().flopsPerToken(T) * tps / (peakGflops * 1e9);
        return new StepMetrics(k, t.steps(), loss, ce, lr, norm, tps, mfu, sec, skipped);
    }

    /** Mean loss and cross-entropy over the first {@code eval_batches} batches of the validation split, in order. */
    public double[] evaluate() {
        var t = cfg.train();
        Evaluation.Result r = Evaluation.ofShards(model, data.val(), (long) t.evalBatches() * t.batchSize());
        return new double[] {r.loss(), r.ce()};
    }

    private void sample(long k) {
        var t = cfg.train();
        Generator g = new Generator(model, tokenizer);
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
        Checkpoint c = new Checkpoint(cfg.model(), model.params(), optimizer.state(), step, dataPosition,
                new long[] {cfg.train().seed()}, state, m);
        Checkpoints.Saved s = Checkpoints.save(opt.runDir(), c, data.tokenizer(),
                new Retention(cfg.train().keepCheckpoints(), data.val() != null ? "val_loss" : null));
        for (String w : s.warnings()) listener.onMessage(w);
        metrics.write(event("checkpoint", fields("dir", s.dir().getFileName().toString())));
        listener.onCheckpoint(step, s.dir());
    }

    // rows (B, T+1) -> inputs (B, T) = rows[:, :T], targets (B, T) = rows[:, 1:]
    static void split(int[] rows, int B, int T, int[] inputs, int[] targets) {
        for (int b = 0; b < B; b++) {
            System.arraycopy(rows, b * (T + 1), inputs, b * T, T);
            System.arraycopy(rows, b * (T + 1) + 1, targets, b * T, T);
        }
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

    public PalmModel model() {
        return model;
    }

    public long step() {
        return step;
    }

    @Override
    public void close() {
        metrics.close();
        par.close();
    }
}
