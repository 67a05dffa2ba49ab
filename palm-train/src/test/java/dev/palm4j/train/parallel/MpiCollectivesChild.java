package dev.palm4j.train.parallel;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.zip.CRC32;

/**
 * One rank of {@link MpiCollectivesTest}, run under mpirun: every collective of
 * {@link MpiCommunicator} against values each rank can compute for itself (every rank's input is
 * a function of its rank), and its byte counts against an in-process {@link Collectives} ring of
 * the same size doing the same calls. Prints {@code rank R ok: N checks} or exits with 1. With the
 * argument {@code chunks} it also runs buffers longer than one MPI call's chunk.
 */
public final class MpiCollectivesChild {
    static final Link LINK = Link.of(10, 1);
    static int checks;

    public static void main(String[] args) throws Exception {
        MpiCommunicator world = MpiCommunicator.world();
        MpiCommunicator c = world.dup(LINK);
        int n = c.size(), rank = c.rank();
        try {
            // more than one chunk only when asked: 16 MB buffers are slow on oversubscribed cores
            int[] lens = args.length > 0 && args[0].equals("chunks") ? new int[] {1, 7, 1001, 65_537, MpiCommunicator.CHUNK + 5}
                    : new int[] {1, 7, 1001, 65_537};
            for (int len : lens) {
                exactSums(c, len);
                roundedSums(c, len);
                gatherAndBroadcast(c, len);
            }
            doubles(c);
            c.barrier();
            traffic(c);
            if (world.size() != n || world.rank() != rank) throw new AssertionError("dup changed the ranks");
            System.out.println("rank " + rank + " ok: " + checks + " checks");
            MpiCommunicator.finish();
        } catch (Throwable t) {
            System.out.println("rank " + rank + " FAILED: " + t);
            t.printStackTrace(System.out);
            System.out.flush();
            Runtime.getRuntime().halt(1);
        }
    }

    // small multiples of 0.5: every sum is exact in any order
    static float exact(int r, int i) {
        return ((r + 1) * (i % 13) - 6) * 0.5f;
    }

    static float[] random(int r, int len) {
        SplittableRandom rng = new SplittableRandom(1000L * r + len);
        float[] x = new float[len];
        for (int i = 0; i < len; i++) x[i] = (float) (rng.nextDouble() * 2 - 1);
        return x;
    }

    static void exactSums(MpiCommunicator c, int len) {
        int n = c.size(), off = 3;
        float[] buf = new float[len + 5];
        Arrays.fill(buf, 42f);
        for (int i = 0; i < len; i++) buf[off + i] = exact(c.rank(), i);
        c.allReduce(buf, off, len);
        for (int i = 0; i < len; i++) {
            float want = 0;
            for (int r = 0; r < n; r++) want += exact(r, i);
            equal(want, buf[off + i], "all-reduce, " + len + " floats, element " + i);
        }
        equal(42f, buf[off - 1], "all-reduce leaves what is before the range");
        equal(42f, buf[off + len], "all-reduce leaves what is after the range");
        for (int i = 0; i < len; i++) buf[off + i] = exact(c.rank(), i);
        c.reduceScatter(buf, off, len);
        for (int i = Collectives.pieceStart(len, n, c.rank()); i < Collectives.pieceStart(len, n, c.rank() + 1); i++) {
            float want = 0;
            for (int r = 0; r < n; r++) want += exact(r, i);
            equal(want, buf[off + i], "reduce-scatter, " + len + " floats, element " + i);
        }
        equal(42f, buf[off + len], "reduce-scatter leaves what is after the range");
    }

    // rounded sums: bitwise the ring's at 2 ranks, within float rounding beyond; the same bits on every rank
    static void roundedSums(MpiCommunicator c, int len) {
        int n = c.size();
        float[][] all = new float[n][];
        for (int r = 0; r < n; r++) all[r] = random(r, len);
        float[] buf = all[c.rank()].clone();
        c.allReduce(buf, 0, len);
        float[] scatter = all[c.rank()].clone();
        c.reduceScatter(scatter, 0, len);
        for (int p = 0; p < n; p++)
            for (int i = Collectives.pieceStart(len, n, p); i < Collectives.pieceStart(len, n, p + 1); i++) {
                float ring = all[(p + 1) % n][i];
                for (int k = 2; k <= n; k++) ring = all[(p + k) % n][i] + ring; // the in-process ring's order
                double abs = 0;
                for (int r = 0; r < n; r++) abs += Math.abs(all[r][i]);
                if (n == 2) equal(ring, buf[i], "all-reduce at 2 ranks is the ring's a + b, element " + i);
                else close(ring, buf[i], abs, "all-reduce, element " + i);
                if (p == c.rank()) {
                    if (n == 2) equal(ring, scatter[i], "reduce-scatter at 2 ranks, element " + i);
                    else close(ring, scatter[i], abs, "reduce-scatter, element " + i);
                }
            }
        CRC32 crc = new CRC32();
        for (float v : buf) crc.update(Float.floatToRawIntBits(v));
        double[] mine = {crc.getValue()}, root = {crc.getValue()};
        c.broadcast(0, root, 0, 1);
        equal(root[0], mine[0], "every rank holds the same all-reduced bits (" + len + " floats)");
    }

    static void gatherAndBroadcast(MpiCommunicator c, int len) {
        int n = c.size(), off = 2;
        float[] buf = new float[len + 4];
        Arrays.fill(buf, -1f);
        for (int i = Collectives.pieceStart(len, n, c.rank()); i < Collectives.pieceStart(len, n, c.rank() + 1); i++)
            buf[off + i] = exact(c.rank(), i);
        c.allGather(buf, off, len);
        for (int p = 0; p < n; p++)
            for (int i = Collectives.pieceStart(len, n, p); i < Collectives.pieceStart(len, n, p + 1); i++)
                equal(exact(p, i), buf[off + i], "all-gather, " + len + " floats, element " + i);
        equal(-1f, buf[off + len], "all-gather leaves what is after the range");
        int root = n - 1;
        float[] b = new float[len + 1];
        for (int i = 0; i < len; i++) b[i + 1] = c.rank() == root ? exact(root, i) : 99f;
        c.broadcast(root, b, 1, len);
        for (int i = 0; i < len; i++) equal(exact(root, i), b[i + 1], "broadcast, " + len + " floats, element " + i);
    }

    static void doubles(MpiCommunicator c) {
        int n = c.size(), len = 5;
        double[][] all = new double[n][len];
        for (int r = 0; r < n; r++) {
            SplittableRandom rng = new SplittableRandom(77 + r);
            for (int i = 0; i < len; i++) all[r][i] = rng.nextDouble() * 1e3 - 5e2;
        }
        double[] buf = new double[len + 2];
        System.arraycopy(all[c.rank()], 0, buf, 1, len);
        c.allReduce(buf, 1, len);
        for (int i = 0; i < len; i++) {
            double sum = 0;
            for (int r = 0; r < n; r++) sum += all[r][i];
            equal(sum, buf[1 + i], "double all-reduce in rank order, element " + i);
        }
        double[] b = c.rank() == 1 ? all[1].clone() : new double[len];
        c.broadcast(1, b, 0, len);
        for (int i = 0; i < len; i++) equal(all[1][i], b[i], "double broadcast, element " + i);
    }

    // the same calls on an in-process ring of n members: this rank's bytes and link time must match
    static void traffic(MpiCommunicator c) throws Exception {
        int n = c.size(), len = 1003;
        c.takeTraffic();
        run(c, c.rank(), len);
        Collectives.Traffic mpi = c.takeTraffic();
        Collectives ring = new Collectives("data", new int[n], LINK, 30);
        ExecutorService pool = Executors.newFixedThreadPool(n);
        List<Future<?>> fs = new ArrayList<>();
        for (int r = 0; r < n; r++) {
            Communicator m = ring.member(r);
            fs.add(pool.submit(() -> {
                run(m, m.rank(), len);
                return null;
            }));
        }
        for (Future<?> f : fs) f.get();
        pool.shutdown();
        Collectives.Traffic want = ring.takeTraffic(c.rank());
        equal(want.bytes(), mpi.bytes(), "bytes counted as the ring sends them");
        if (Math.abs(want.linkSeconds() - mpi.linkSeconds()) > 1e-12) throw new AssertionError("link time " + mpi + " vs ring " + want);
        checks++;
    }

    static void run(Communicator c, int rank, int len) {
        float[] f = new float[len];
        double[] d = new double[3];
        c.allReduce(f, 0, len);
        c.reduceScatter(f, 0, len - 1);
        c.allGather(f, 1, len - 2);
        c.broadcast(0, f, 0, 10);
        c.broadcast(c.size() - 1, d, 0, 3);
        c.allReduce(d, 0, 2);
    }

    static void equal(double want, double got, String what) {
        if (Double.doubleToRawLongBits(want) != Double.doubleToRawLongBits(got))
            throw new AssertionError(what + ": expected " + want + ", got " + got);
        checks++;
    }

    static void close(float want, float got, double scale, String what) {
        if (!(Math.abs(want - got) <= 1e-6 * scale)) throw new AssertionError(what + ": expected " + want + " within 1e-6 of " + scale + ", got " + got);
        checks++;
    }
}
