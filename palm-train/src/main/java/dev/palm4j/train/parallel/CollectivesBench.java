package dev.palm4j.train.parallel;

import dev.palm4j.core.bench.Stats;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * All-reduce throughput of 2 ranks, for bench/mpi.sh: {@code local} runs the in-process ring of
 * two simulated devices (two threads of this JVM), {@code mpi} runs under
 * {@code mpirun -np 2} through {@link MpiCommunicator} from a {@code float[]} (the training path:
 * copies to and from the staging buffer included) and, for reference, MPI alone on the staging
 * buffer. Arguments: {@code local|mpi} then buffer sizes in MB (10^6 bytes). Per size it prints one
 * line from rank 0: {@code allreduce backend path MB ms GB/s}, the median over timed calls, each
 * call started together by a barrier; GB/s is the buffer's bytes over the time (algorithm
 * bandwidth, as nccl-tests' algbw).
 */
public final class CollectivesBench {
    private CollectivesBench() {}

    public static void main(String[] args) throws Exception {
        boolean mpi = args[0].equals("mpi");
        List<Double> sizes = new ArrayList<>();
        for (int i = 1; i < args.length; i++) sizes.add(Double.parseDouble(args[i]));
        Link link = Link.of(0, 100);
        if (mpi) {
            MpiCommunicator c = MpiCommunicator.world().dup(link);
            for (double mb : sizes) {
                int floats = (int) (mb * 1e6 / 4);
                float[] buf = new float[floats];
                report(c.rank(), "mpi", "float[]", mb, time(c, mb, () -> c.allReduce(buf, 0, floats)));
                report(c.rank(), "mpi", "native", mb, time(c, mb, () -> c.allReduceStaged(floats)));
            }
            MpiCommunicator.finish();
        } else {
            Collectives ring = new Collectives("data", new int[] {0, 1}, link, 600);
            ExecutorService pool = Executors.newFixedThreadPool(2);
            for (double mb : sizes) {
                int floats = (int) (mb * 1e6 / 4);
                List<Future<double[]>> fs = new ArrayList<>();
                for (int r = 0; r < 2; r++) {
                    Communicator c = ring.member(r);
                    fs.add(pool.submit(() -> {
                        float[] buf = new float[floats];
                        return time(c, mb, () -> c.allReduce(buf, 0, floats));
                    }));
                }
                double[] ms = fs.get(0).get();
                fs.get(1).get();
                report(0, "local", "float[]", mb, ms);
            }
            pool.shutdown();
        }
        System.exit(0);
    }

    // per-call milliseconds of the timed calls (a few warm-up calls first)
    private static double[] time(Communicator c, double mb, Runnable call) {
        int warm = 3, reps = mb <= 2 ? 200 : mb <= 20 ? 40 : 12;
        double[] ms = new double[reps];
        for (int i = 0; i < warm + reps; i++) {
            c.barrier();
            long t = System.nanoTime();
            call.run();
            if (i >= warm) ms[i - warm] = (System.nanoTime() - t) / 1e6;
        }
        return ms;
    }

    private static void report(int rank, String backend, String path, double mb, double[] ms) {
        if (rank != 0) return;
        List<Double> xs = new ArrayList<>();
        for (double x : ms) xs.add(x);
        double median = Stats.median(xs);
        System.out.printf(Locale.ROOT, "allreduce %s %s %.0f MB %.3f ms %.2f GB/s%n", backend, path, mb, median, mb / median);
    }
}
