package dev.palm4j.train;

import dev.palm4j.train.config.RunConfig;
import dev.palm4j.train.parallel.MpiCommunicator;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.zip.CRC32;

/**
 * One rank of {@link MpiTrainingTest}'s runs under mpirun: trains a config ({@code configs/tiny.yaml},
 * or one with a {@code faults:} section) with {@code parallel.backend=mpi}. Arguments: the config,
 * the run directory, the data cache, the step count, {@code resume} or {@code new}, the rank that
 * dies and the step after which it dies (-1 for none), then {@code key=value} overrides. Prints
 * {@code rank R weights CRC} at the end.
 */
public final class MpiTrainChild {
    public static void main(String[] args) {
        Path yaml = Path.of(args[0]), run = Path.of(args[1]), cache = Path.of(args[2]);
        int steps = Integer.parseInt(args[3]), dieRank = Integer.parseInt(args[5]), dieStep = Integer.parseInt(args[6]);
        boolean resume = args[4].equals("resume");
        List<String> sets = new ArrayList<>(Arrays.asList(args).subList(7, args.length));
        sets.add("parallel.backend=mpi");
        try (Trainer t = new Trainer(config(yaml, cache, steps, sets), new Trainer.Options(run, resume, null, 100, "mpi-test"),
                new TrainListener() {
                    @Override
                    public void onStep(Trainer.StepMetrics m) {
                        if (m.step() == dieStep && MpiCommunicator.world().rank() == dieRank) {
                            System.out.println("rank " + dieRank + " dies after step " + dieStep);
                            System.out.flush();
                            Runtime.getRuntime().halt(3); // as a kill -9 would: no finalize, no cleanup
                        }
                    }
                })) {
            t.run();
            CRC32 crc = new CRC32();
            for (float v : t.weights()) crc.update(Float.floatToRawIntBits(v));
            System.out.println("rank " + MpiCommunicator.world().rank() + " weights " + Long.toHexString(crc.getValue()));
        }
        MpiCommunicator.finish();
        System.exit(0);
    }

    /** configs/tiny.yaml's path from the module directory. */
    static final Path TINY = Path.of("..", "configs", "tiny.yaml");

    /** {@code yaml}, short: evaluations and checkpoints every 5 steps, the schedule of a 40-step run, no samples, data in {@code cache}. */
    static RunConfig config(Path yaml, Path cache, int steps, List<String> sets) {
        List<String> all = new ArrayList<>(List.of("train.steps=" + steps, "train.eval_interval=5", "train.eval_batches=2",
                "train.checkpoint_interval=5", "train.keep_checkpoints=3", "train.sample_interval=0", "train.threads=2",
                "schedule.warmup_steps=2", "schedule.total_steps=40",
                "data.cache_dir=" + cache));
        all.addAll(sets);
        return RunConfig.load(yaml, all);
    }
}
