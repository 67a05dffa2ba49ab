package dev.palm4j.train.parallel;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class CollectivesTest {
    static final ExecutorService POOL = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r);
        t.setDaemon(true);
        return t;
    });
    static final Link LINK = Link.of(10, 1); // 10 us, 1 GB/s

    @AfterAll
    static void stop() {
        POOL.shutdownNow();
    }

    interface Member {
        void run(int rank) throws Exception;
    }

    /** Runs one member per rank on its own thread and waits for all. */
    static void members(int n, Member m) throws Exception {
        List<Future<?>> fs = new ArrayList<>();
        for (int r = 0; r < n; r++) {
            int rank = r;
            fs.add(POOL.submit(() -> {
                m.run(rank);
                return null;
            }));
        }
        for (Future<?> f : fs) f.get();
    }

    static Collectives group(int n, double timeout) {
        int[] ids = new int[n];
        for (int i = 0; i < n; i++) ids[i] = 10 + i;
        return new Collectives("test", ids, LINK, timeout);
    }

    static float[][] random(int n, int len, long seed) {
        Random rng = new Random(seed);
        float[][] b = new float[n][len + 3];
        for (float[] x : b) for (int i = 0; i < x.length; i++) x[i] = rng.nextFloat() * 2 - 1;
        return b;
    }

    // the ring's order for piece p: rank p+1 first, then p+2, ..., p last
    static float ringSum(float[][] b, int off, int i, int n, int p) {
        float s = b[(p + 1) % n][off + i];
        for (int k = 2; k <= n; k++) s = b[(p + k) % n][off + i] + s;
        return s;
    }

    @ParameterizedTest(name = "n={0} len={1}")
    @CsvSource({"1,5", "2,1", "2,1000", "3,7", "3,1001", "4,2", "4,4096"})
    void allReduceSumsInTheRingsFixedOrderOnEveryRank(int n, int len) throws Exception {
        float[][] b = random(n, len, n * 100 + len), orig = new float[n][];
        for (int r = 0; r < n; r++) orig[r] = b[r].clone();
        Collectives c = group(n, 10);
        members(n, r -> c.allReduce(r, b[r], 2, len));
        for (int r = 0; r < n; r++) {
            assertEquals(orig[r][0], b[r][0]); // outside the range: untouched
            assertEquals(orig[r][len + 2], b[r][len + 2]);
            for (int p = 0; p < n; p++)
                for (int i = Collectives.pieceStart(len, n, p); i < Collectives.pieceStart(len, n, p + 1); i++)
                    assertEquals(n == 1 ? orig[0][2 + i] : ringSum(orig, 2, i, n, p), b[r][2 + i], "rank " + r + " element " + i);
            assertArrayEquals(java.util.Arrays.copyOfRange(b[0], 2, 2 + len), java.util.Arrays.copyOfRange(b[r], 2, 2 + len),
                    "every rank holds the same bits");
        }
    }

    @ParameterizedTest(name = "n={0} len={1}")
    @CsvSource({"2,1000", "3,999", "4,4096"})
    void bytesSentMatchTheAnalyticCount(int n, int len) throws Exception {
        float[][] b = random(n, len, 3);
        Collectives c = group(n, 10);
        members(n, r -> c.allReduce(r, b[r], 0, len));
        // len divisible by n: each rank sends 2 (n-1) pieces of len/n floats
        for (int r = 0; r < n; r++) {
            Collectives.Traffic t = c.takeTraffic(r);
            assertEquals(8L * (n - 1) * len / n, t.bytes(), "all-reduce bytes, rank " + r);
            assertEquals(2 * (n - 1) * LINK.seconds(4L * len / n), t.linkSeconds(), 1e-12, "simulated link time");
            assertEquals(0, c.takeTraffic(r).bytes(), "taking resets");
        }
        members(n, r -> c.broadcast(r, 1, b[r], 0, len));
        for (int r = 0; r < n; r++) assertEquals(r == 1 ? 4L * (n - 1) * len : 0, c.takeTraffic(r).bytes(), "broadcast bytes");
        double[][] d = new double[n][3];
        members(n, r -> c.allReduce(r, d[r], 0, 3));
        for (int r = 0; r < n; r++) assertEquals(8L * 3 * (n - 1), c.takeTraffic(r).bytes(), "small all-reduce bytes");
    }

    @Test
    void reduceScatterAllGatherAndBroadcast() throws Exception {
        int n = 3, len = 10;
        float[][] b = random(n, len, 5), orig = new float[n][];
        for (int r = 0; r < n; r++) orig[r] = b[r].clone();
        Collectives c = group(n, 10);
        members(n, r -> c.reduceScatter(r, b[r], 0, len));
        for (int r = 0; r < n; r++)
            for (int i = Collectives.pieceStart(len, n, r); i < Collectives.pieceStart(len, n, r + 1); i++)
                assertEquals(ringSum(orig, 0, i, n, r), b[r][i], 0f);
        members(n, r -> c.allGather(r, b[r], 0, len));
        for (int r = 1; r < n; r++)
            assertArrayEquals(java.util.Arrays.copyOf(b[0], len), java.util.Arrays.copyOf(b[r], len));
        float[][] x = random(n, len, 6);
        float[] root = java.util.Arrays.copyOf(x[2], len);
        members(n, r -> c.broadcast(r, 2, x[r], 0, len));
        for (int r = 0; r < n; r++) assertArrayEquals(root, java.util.Arrays.copyOf(x[r], len));
        double[][] d = {{1, 2}, {10, 20}, {100, 200}};
        members(n, r -> c.allReduce(r, d[r], 0, 2));
        for (int r = 0; r < n; r++) assertArrayEquals(new double[] {111, 222}, d[r]);
    }

    @Test
    void membersAreCommunicatorsOverTheSameRing() throws Exception {
        int n = 3, len = 11;
        Collectives c = group(n, 10);
        float[][] b = random(n, len, 8), orig = new float[n][];
        for (int r = 0; r < n; r++) orig[r] = b[r].clone();
        double[][] d = {{0, 0}, {0, 0}, {7.5, -2}};
        members(n, r -> {
            Communicator m = c.member(r);
            assertEquals(r, m.rank());
            assertEquals(n, m.size());
            m.allReduce(b[r], 0, len);
            m.barrier();
            m.broadcast(2, d[r], 0, 2);
        });
        for (int r = 0; r < n; r++) {
            for (int p = 0; p < n; p++)
                for (int i = Collectives.pieceStart(len, n, p); i < Collectives.pieceStart(len, n, p + 1); i++)
                    assertEquals(ringSum(orig, 0, i, n, p), b[r][i], 0f, "the ring's sums through a member");
            assertArrayEquals(new double[] {7.5, -2}, d[r], "double broadcast");
            Collectives.Traffic t = c.member(r).takeTraffic();
            long ring = 0;
            for (int s = 0; s < n - 1; s++)
                ring += 4L * (Collectives.pieceLen(len, n, Collectives.reduceScatterPiece(n, r, s))
                        + Collectives.pieceLen(len, n, Collectives.allGatherPiece(n, r, s)));
            // uneven pieces (11 floats over 3): the pieces the ring sent, as MpiCommunicator counts them; the root's doubles
            assertEquals(ring + (r == 2 ? 8L * 2 * (n - 1) : 0), t.bytes(), "rank " + r);
        }
    }

    @Test
    void aGroupOfOneLeavesEveryBufferAsItIs() {
        Communicator one = Communicator.single();
        float[] f = {1, 2, 3};
        double[] d = {4, 5};
        one.allReduce(f, 0, 3);
        one.reduceScatter(f, 0, 3);
        one.allGather(f, 0, 3);
        one.broadcast(0, f, 0, 3);
        one.allReduce(d, 0, 2);
        one.broadcast(0, d, 0, 2);
        one.barrier();
        assertArrayEquals(new float[] {1, 2, 3}, f);
        assertArrayEquals(new double[] {4, 5}, d);
        assertEquals(0, one.takeTraffic().bytes());
        assertEquals(0, one.rank());
        assertEquals(1, one.size());
    }

    @Test
    void aMemberThatNeverComesTimesTheOthersOutInsteadOfHangingThem() {
        // Several rounds: which of the two waiting members times out first (and which is woken by
        // the broken barrier) varies, and either may be the one whose failure is seen first.
        for (int round = 0; round < 5; round++) {
            Collectives c = group(3, 0.1);
            long t0 = System.nanoTime();
            ExecutionException e = assertThrows(ExecutionException.class,
                    () -> members(2, r -> c.allReduce(r, new float[8], 0, 8))); // rank 2 never calls
            assertTrue(e.getCause() instanceof CollectiveException, e.getCause().toString());
            assertTrue((System.nanoTime() - t0) / 1e9 < 5, "fails within about the timeout");
            assertTrue(c.cancelled(), "a timed-out group is cancelled for good (round " + round + ")");
            assertThrows(CollectiveException.class, () -> c.allReduce(0, new float[8], 0, 8));
        }
    }

    @Test
    void cancelReleasesEveryWaiter() throws Exception {
        Collectives c = group(2, 60);
        Future<?> waiting = POOL.submit(() -> {
            c.allReduce(0, new float[8], 0, 8);
            return null;
        });
        Thread.sleep(100);
        long t0 = System.nanoTime();
        c.cancel();
        ExecutionException e = assertThrows(ExecutionException.class, waiting::get);
        assertTrue(e.getCause() instanceof CollectiveException);
        assertTrue((System.nanoTime() - t0) / 1e9 < 5, "released at once, not after the 60 s timeout");
    }
}
