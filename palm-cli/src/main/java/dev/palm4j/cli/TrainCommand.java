package dev.palm4j.cli;

import dev.palm4j.core.InputException;
import dev.palm4j.train.TrainListener;
import dev.palm4j.train.Trainer;
import dev.palm4j.train.config.ParallelConfig;
import dev.palm4j.train.config.RunConfig;
import dev.palm4j.train.parallel.MpiCommunicator;
import dev.palm4j.train.parallel.SimulatedDevice;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Duration;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code palm train}: runs the training loop of a YAML config. */
@Command(name = "train",
        header = "Train a model from a YAML config (text in, checkpoints out).",
        description = {
            "Prepares the data on first use (a named corpus such as kjv is fetched from Debian"
                + " packages, a tokenizer is trained and shards are cached under data/cache), then"
                + " trains: a progress line with loss, learning rate, tokens/s, MFU and ETA;"
                + " validation loss and a sample from a fixed prompt at each evaluation;"
                + " checkpoints at intervals and at the end. Everything lands in the run directory:"
                + " config.yaml, run.json, metrics.jsonl, checkpoints/.",
            "",
            "Examples:",
            "  palm train --config configs/small.yaml --run-dir runs/small",
            "  palm train --config configs/tiny.yaml --set model.n_layers=2 --set train.steps=50",
            "  palm train --config configs/small.yaml --run-dir runs/small --resume --steps 1000",
            "  palm train --config configs/small.yaml --init-from runs/small --run-dir runs/finetune",
            "  mpirun -np 2 ./palm train --config configs/small.yaml --set parallel.data=2 --set parallel.backend=mpi",
            "",
            "Under mpirun (parallel.backend = mpi, docs/distributed.md) each process is one data rank;"
                + " process 0 prints the progress and writes the run directory, the others stay quiet.",
        })
final class TrainCommand implements Callable<Integer> {
    @Option(names = "--config", required = true, paramLabel = "FILE", description = "The run config (see configs/, docs/configuration.md).")
    Path config;

    @Option(names = "--run-dir", paramLabel = "DIR",
            description = "Where the run's files go (default: runs/<config name>-<timestamp>). Must be new or empty unless --resume.")
    Path runDir;

    @Option(names = "--steps", paramLabel = "N", description = "Total optimizer steps of the run (overrides train.steps); with --resume, train until step N.")
    Integer steps;

    @Option(names = "--set", paramLabel = "KEY=VALUE", description = "Override a config value by its dotted key (repeatable), e.g. --set model.n_layers=2.")
    List<String> sets = new ArrayList<>();

    @Option(names = "--resume", description = "Continue the run in --run-dir from its newest valid checkpoint.")
    boolean resume;

    @Option(names = "--init-from", paramLabel = "CHECKPOINT",
            description = "Start a new run from these weights (a checkpoint or run directory), with a fresh optimizer and schedule.")
    Path initFrom;

    @Option(names = "--peak-gflops", paramLabel = "G",
            description = "The FMA peak in GFLOP/s that MFU is relative to, instead of measuring it at start"
                    + " (2 s; `palm bench peak` prints it).")
    double peakGflops;

    @Override
    public Integer call() {
        if (steps != null && steps < 1) throw new InputException("--steps " + steps + " must be at least 1", "pass the total step count");
        if (resume && runDir == null) throw new InputException("--resume needs --run-dir", "name the run directory to continue");
        List<String> all = new ArrayList<>(sets);
        if (steps != null) all.add("train.steps=" + steps);
        RunConfig cfg = RunConfig.load(config, all);
        boolean mpi = cfg.parallel().backend() == ParallelConfig.Backend.MPI;
        boolean quiet = mpi && MpiCommunicator.world().rank() != 0; // starts MPI; outside mpirun: a clear error
        Path dir = runDir != null ? runDir : defaultRunDir(config);
        Progress progress = quiet
                ? new Progress("train", cfg.train().steps(), new PrintStream(OutputStream.nullOutputStream()), false, System::nanoTime)
                : Progress.stderr("train", cfg.train().steps()).plainInterval(Duration.ofDays(1));
        try (progress; Trainer trainer = new Trainer(cfg,
                new Trainer.Options(dir, resume, initFrom, peakGflops, VersionProvider.palmVersion()), new Console(progress, cfg, peakGflops > 0))) {
            Trainer.StepMetrics last = runStoppable(trainer);
            progress.close();
            if (!quiet) { // over MPI process 0 reports
                if (last == null) System.err.println("palm: nothing to do: the run is already at step " + trainer.step());
                else if (last.step() >= cfg.train().steps()) // else it was stopped, and said so
                    System.err.printf(Locale.ROOT, "palm: done: step %d, loss %.4f; checkpoints in %s%n", last.step(), last.loss(),
                            dir.resolve("checkpoints"));
            }
        }
        if (mpi) MpiCommunicator.finish(); // after the last collective; on an error the process exits without it and mpirun stops the job
        return 0;
    }

    /**
     * Runs the trainer; Ctrl-C or SIGTERM asks it to finish the current step and write a
     * checkpoint, and the JVM exits once that is on disk (a second signal cannot cut it short).
     */
    static Trainer.StepMetrics runStoppable(Trainer trainer) {
        CountDownLatch finished = new CountDownLatch(1);
        Thread hook = new Thread(() -> {
            trainer.requestStop();
            try {
                finished.await(10, TimeUnit.MINUTES);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, "palm-stop");
        Runtime.getRuntime().addShutdownHook(hook);
        try {
            return trainer.run();
        } finally {
            finished.countDown();
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException shuttingDown) {
                // the hook is running: it returns now that the checkpoint is written
            }
        }
    }

    static Path defaultRunDir(Path config) {
        String name = config.getFileName().toString().replaceFirst("\\.ya?ml$", "");
        return Path.of("runs", name + "-" + LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")));
    }

    /** Prints the run's events: the plan, a line every log_interval steps, evals, samples, checkpoints. */
    static final class Console implements TrainListener {
        private final Progress progress;
        private final RunConfig cfg;
        private final boolean peakGiven; // --peak-gflops, not measured
        private double peakGflops;
        private boolean saidMfuOverPeak;

        Console(Progress progress, RunConfig cfg, boolean peakGiven) {
            this.progress = progress;
            this.cfg = cfg;
            this.peakGiven = peakGiven;
        }

        @Override
        public void onStart(Trainer.Plan p) {
            peakGflops = p.peakGflops();
            progress.startAt(p.startStep());
            progress.rateUnit("tok", (double) cfg.train().batchSize() * cfg.train().seqLen());
            var m = cfg.model();
            progress.message(String.format(Locale.ROOT,
                    "palm: model %,d parameters (d_model %d, %d layers, %d heads of %d, %d kv head%s, vocab %d); %s",
                    p.parameters(), m.dModel(), m.nLayers(), m.nHeads(), m.headDim(), m.nKvHeads(),
                    m.nKvHeads() == 1 ? "" : "s", m.vocab(), p.hasValidation() ? "validation split on" : "no validation split"));
            progress.message(String.format(Locale.ROOT,
                    (cfg.parallel().devices() > 1 ? "palm: memory per device (largest)" : "palm: memory") + ": parameters %s, gradients %s, optimizer %s, activations %s = %s (heap %s)",
                    mb(p.paramBytes()), mb(p.gradBytes()), mb(p.optimizerBytes()), mb(p.activationBytes()), mb(p.totalBytes()),
                    mb(Runtime.getRuntime().maxMemory())));
            var par = cfg.parallel();
            if (par.devices() > 1) {
                progress.message(String.format(Locale.ROOT, "palm: mesh %d x %d (data x model)%s, %d kernel thread%s per device",
                        par.data(), par.model(), par.shardOptimizer() && par.data() > 1 ? ", optimizer state sharded (ZeRO-1)" : "",
                        Math.max(1, p.threads() / par.devicesPerProcess()), Math.max(1, p.threads() / par.devicesPerProcess()) == 1 ? "" : "s")
                        + (par.backend() == ParallelConfig.Backend.MPI ? ", one process per data rank (MPI); devices of process 0:" : ""));
                for (int i = 0; i < p.deviceMemory().size(); i++) {
                    var d = p.deviceMemory().get(i);
                    long total = d.values().stream().mapToLong(Long::longValue).sum();
                    progress.message(String.format(Locale.ROOT,
                            "palm:   device %d (data %d, model %d): parameters %s, gradients %s, optimizer %s, activations %s = %s",
                            i, i / par.model(), i % par.model(), mb(d.get(SimulatedDevice.Memory.PARAMETERS)),
                            mb(d.get(SimulatedDevice.Memory.GRADIENTS)), mb(d.get(SimulatedDevice.Memory.OPTIMIZER)),
                            mb(d.get(SimulatedDevice.Memory.ACTIVATIONS)), mb(total)));
                }
            }
            progress.message(String.format(Locale.ROOT,
                    "palm: steps %d..%d, %d tokens per step, %d threads, FMA peak %.0f GFLOP/s, %.1f MFLOP per token",
                    p.startStep() + 1, p.totalSteps(), cfg.train().batchSize() * cfg.train().seqLen(), p.threads(),
                    p.peakGflops(), p.flopsPerToken() / 1e6));
        }

        @Override
        public void onStep(Trainer.StepMetrics s) {
            String status = String.format(Locale.ROOT, "loss %.4f lr %.2e %s tok/s mfu %.1f%%", s.loss(), s.lr(),
                    Progress.formatRate(s.tokensPerSecond()), 100 * s.mfu());
            progress.update(s.step(), status);
            if (s.mfu() > 1 && !saidMfuOverPeak) {
                // Model FLOPs cannot outrun the FMA units: the peak is too low, most often one
                // measured while something else held the CPU. Said once; the run keeps the one
                // denominator it recorded in run.json.
                saidMfuOverPeak = true;
                progress.message(String.format(Locale.ROOT,
                        "palm: MFU over 100%%: step %d ran %.0f GFLOP/s of model FLOPs, more than the FMA peak %s"
                                + " (%.0f GFLOP/s), so that figure is low%s; this run's MFU is relative to it."
                                + " `palm bench peak` measures the peak, --peak-gflops sets it.",
                        s.step(), s.mfu() * peakGflops, peakGiven ? "given with --peak-gflops" : "measured at start",
                        peakGflops, peakGiven ? "" : " (the CPU was busy then)"));
            }
            int every = cfg.train().logInterval();
            if (every > 0 && (s.step() % every == 0 || s.step() == s.totalSteps())) {
                double eta = progress.etaSeconds();
                progress.message(String.format(Locale.ROOT,
                        "step %6d/%d | loss %.4f | ce %.4f | lr %.2e | grad %.3f | %s tok/s | mfu %.1f%% | ETA %s",
                        s.step(), s.totalSteps(), s.loss(), s.ce(), s.lr(), s.gradNorm(),
                        Progress.formatRate(s.tokensPerSecond()), 100 * s.mfu(),
                        Double.isFinite(eta) ? Progress.formatDuration(eta) : "-")
                        + (s.commBytes() > 0 ? String.format(Locale.ROOT,
                                " | comm %s, link %.1f ms simulated, copy %.1f ms (%.1f ms exposed)", mb(s.commBytes()),
                                1e3 * s.linkSeconds(), 1e3 * s.commSeconds(), 1e3 * s.commWaitSeconds()) : ""));
            }
        }

        @Override
        public void onEval(long step, double valLoss, double valCe) {
            progress.message(String.format(Locale.ROOT, "eval   %6d | val_loss %.4f | val_ce %.4f | perplexity %.2f",
                    step, valLoss, valCe, Math.exp(valCe)));
        }

        @Override
        public void onSample(long step, String prompt, String text) {
            progress.message("sample " + step + " | " + (prompt + text).replace("\n", " / "));
        }

        @Override
        public void onCheckpoint(long step, Path dir) {
            progress.message("checkpoint " + step + " -> " + dir);
        }

        @Override
        public void onMessage(String message) {
            progress.message("palm: " + message);
        }

        private static String mb(long bytes) {
            return String.format(Locale.ROOT, "%.1f MB", bytes / 1e6);
        }
    }
}
