package dev.palm4j.train.parallel;

import java.util.concurrent.BrokenBarrierException;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The collectives of one group of devices (one mesh axis: the model ranks of a data replica, or
 * the data ranks holding one model shard). Every member calls the same collective with its own
 * rank and its own buffer; data moves only by copies into the receiver's inbox (the wire), never
 * by one device reading another's arrays.
 *
 * <p>Algorithms (n members, a buffer of L floats cut into n pieces, {@link #pieceStart}):
 * <ul>
 *   <li>reduce-scatter: a ring of n - 1 steps; at step s rank r sends piece (r - s - 1) to rank
 *       r + 1, which adds it to its own. Rank r ends with piece r summed over the group, piece p
 *       summed in the fixed order p+1, p+2, ..., p: deterministic. Bytes sent per rank:
 *       4 (n - 1) L / n (pieces of equal size).</li>
 *   <li>all-gather: a ring of n - 1 steps passing pieces on; the same bytes.</li>
 *   <li>all-reduce: reduce-scatter then all-gather, 8 (n - 1) L / n bytes per rank: bandwidth
 *       optimal, as NCCL and TPU ICI rings do it.</li>
 *   <li>broadcast: the root sends the buffer to every other rank, 4 (n - 1) L bytes from the root
 *       (8 (n - 1) L for doubles).</li>
 *   <li>all-reduce of a few doubles (norms, statistics): every rank sends its values to every
 *       other and each sums in rank order, 8 (n - 1) L bytes per rank.</li>
 * </ul>
 * Every wait has the group's timeout; {@link #cancel} breaks every wait at once. Either way each
 * member waiting gets a {@link CollectiveException} and the group is unusable: the mesh builds a
 * new one when it recovers.
 *
 * <p>A member's view of the group as a {@link Communicator} is {@link #member}; the same
 * collectives over Open MPI (one process per rank) are {@link MpiCommunicator}, which counts the
 * bytes this ring would send ({@link #reduceScatterPiece}, {@link #allGatherPiece}).
 */
public final class Collectives {
    /** The axis name in messages and reports ("model" or "data"). */
    public final String axis;
    private final int n;
    private final int[] deviceIds;
    private final Link link;
    private final long timeoutNanos;
    private final CyclicBarrier barrier;
    private final float[][] inbox;     // inbox[r]: what rank r's neighbour sent it this step
    private final double[][] smallInbox;
    private final long[] bytesSent;    // per rank, since the last takeStats
    private final double[] linkSeconds; // per rank: simulated time on the link, since the last takeStats
    private volatile boolean cancelled;

    /**
     * @param deviceIds the mesh ids of the members, by rank (for messages)
     * @param timeoutSeconds how long any member waits for the others in one step of a collective
     */
    public Collectives(String axis, int[] deviceIds, Link link, double timeoutSeconds) {
        this.axis = axis;
        this.n = deviceIds.length;
        this.deviceIds = deviceIds.clone();
        this.link = link;
        this.timeoutNanos = (long) (timeoutSeconds * 1e9);
        this.barrier = new CyclicBarrier(n);
        this.inbox = new float[n][0];
        this.smallInbox = new double[n][0];
        this.bytesSent = new long[n];
        this.linkSeconds = new double[n];
    }

    public int size() {
        return n;
    }

    /** Rank {@code rank}'s view of this group: the collectives with its rank filled in. */
    public Communicator member(int rank) {
        if (rank < 0 || rank >= n) throw new IllegalArgumentException("rank " + rank + " of " + n);
        return new Member(rank);
    }

    private final class Member implements Communicator {
        private final int rank;

        Member(int rank) {
            this.rank = rank;
        }

        @Override public int rank() { return rank; }
        @Override public int size() { return n; }
        @Override public void allReduce(float[] buf, int off, int len) { Collectives.this.allReduce(rank, buf, off, len); }
        @Override public void reduceScatter(float[] buf, int off, int len) { Collectives.this.reduceScatter(rank, buf, off, len); }
        @Override public void allGather(float[] buf, int off, int len) { Collectives.this.allGather(rank, buf, off, len); }
        @Override public void broadcast(int root, float[] buf, int off, int len) { Collectives.this.broadcast(rank, root, buf, off, len); }
        @Override public void allReduce(double[] buf, int off, int len) { Collectives.this.allReduce(rank, buf, off, len); }
        @Override public void broadcast(int root, double[] buf, int off, int len) { Collectives.this.broadcast(rank, root, buf, off, len); }
        @Override public void barrier() { Collectives.this.barrier(); }
        @Override public Traffic takeTraffic() { return Collectives.this.takeTraffic(rank); }

        @Override
        public String toString() {
            return axis + "-axis rank " + rank + " of " + n;
        }
    }

    /** First element of piece {@code r} when {@code len} elements are cut into {@code n} nearly equal pieces. */
    public static int pieceStart(int len, int n, int r) {
        return (int) ((long) len * r / n);
    }

    /** Sums {@code buf[off, off+len)} over the group, in place on every member. */
    public void allReduce(int rank, float[] buf, int off, int len) {
        reduceScatter(rank, buf, off, len);
        allGather(rank, buf, off, len);
    }

    /**
     * Sums {@code buf[off, off+len)} over the group into this rank's piece
     * {@code [off + pieceStart(len, n, rank), off + pieceStart(len, n, rank + 1))}; the rest of
     * the buffer is left partly reduced (scratch).
     */
    public void reduceScatter(int rank, float[] buf, int off, int len) {
        if (n == 1) return;
        int maxPiece = maxPiece(len);
        if (inbox[rank].length < maxPiece) inbox[rank] = new float[maxPiece];
        int next = (rank + 1) % n;
        for (int s = 0; s < n - 1; s++) {
            await();                                    // every inbox is free (and allocated)
            int p = Math.floorMod(rank - s - 1, n);     // = reduceScatterPiece(n, rank, s)
            send(rank, buf, off + pieceStart(len, n, p), pieceLen(len, p), inbox[next]);
            await();                                    // every piece has arrived
            int q = Math.floorMod(rank - s - 2, n), at = off + pieceStart(len, n, q);
            float[] in = inbox[rank];
            for (int i = 0, m = pieceLen(len, q); i < m; i++) buf[at + i] = in[i] + buf[at + i];
        }
    }

    /** Each rank holds its piece of {@code buf[off, off+len)} (as after reduce-scatter); afterwards every rank holds all of it. */
    public void allGather(int rank, float[] buf, int off, int len) {
        if (n == 1) return;
        int maxPiece = maxPiece(len);
        if (inbox[rank].length < maxPiece) inbox[rank] = new float[maxPiece];
        int next = (rank + 1) % n;
        for (int s = 0; s < n - 1; s++) {
            await();
            int p = Math.floorMod(rank - s, n);         // = allGatherPiece(n, rank, s)
            send(rank, buf, off + pieceStart(len, n, p), pieceLen(len, p), inbox[next]);
            await();
            int q = Math.floorMod(rank - 1 - s, n);
            System.arraycopy(inbox[rank], 0, buf, off + pieceStart(len, n, q), pieceLen(len, q));
        }
    }

    /** Copies the root's {@code buf[off, off+len)} to every member. */
    public void broadcast(int rank, int root, float[] buf, int off, int len) {
        if (n == 1) return;
        if (inbox[rank].length < len) inbox[rank] = new float[len];
        await();
        if (rank == root)
            for (int r = 0; r < n; r++) if (r != root) send(rank, buf, off, len, inbox[r]);
        await();
        if (rank != root) System.arraycopy(inbox[rank], 0, buf, off, len);
    }

    /** Copies the root's {@code buf[off, off+len)} of doubles to every member. */
    public void broadcast(int rank, int root, double[] buf, int off, int len) {
        if (n == 1) return;
        if (smallInbox[rank].length < len) smallInbox[rank] = new double[len];
        await();
        if (rank == root)
            for (int r = 0; r < n; r++) {
                if (r == root) continue;
                System.arraycopy(buf, off, smallInbox[r], 0, len);
                count(rank, 8L * len);
            }
        await();
        if (rank != root) System.arraycopy(smallInbox[rank], 0, buf, off, len);
    }

    /** Returns when every member has called it (or throws a {@link CollectiveException} on a timeout or cancel). */
    public void barrier() {
        if (n > 1) await();
    }

    /** Sums a few doubles over the group, in rank order, the same bits on every member. */
    public void allReduce(int rank, double[] buf, int off, int len) {
        if (n == 1) return;
        if (smallInbox[rank].length < n * len) smallInbox[rank] = new double[n * len];
        await();
        for (int r = 0; r < n; r++) {
            if (r == rank) continue;
            System.arraycopy(buf, off, smallInbox[r], rank * len, len);
            count(rank, 8L * len);
        }
        await();
        double[] in = smallInbox[rank];
        System.arraycopy(buf, off, in, rank * len, len);
        for (int i = 0; i < len; i++) {
            double sum = 0;
            for (int r = 0; r < n; r++) sum += in[r * len + i];
            buf[off + i] = sum;
        }
    }

    /** Breaks every wait of this group now and every later one: members get a {@link CollectiveException}. */
    public void cancel() {
        cancelled = true;
        barrier.reset();
    }

    public boolean cancelled() {
        return cancelled;
    }

    /** Bytes rank {@code rank} sent and its simulated link seconds since the last call; resets both. */
    public synchronized Traffic takeTraffic(int rank) {
        Traffic t = new Traffic(bytesSent[rank], linkSeconds[rank]);
        bytesSent[rank] = 0;
        linkSeconds[rank] = 0;
        return t;
    }

    /** Communication of one rank: bytes it sent and the time its messages would take on the link model. */
    public record Traffic(long bytes, double linkSeconds) {
        public Traffic plus(Traffic o) {
            return new Traffic(bytes + o.bytes, linkSeconds + o.linkSeconds);
        }

        public static final Traffic NONE = new Traffic(0, 0);
    }

    /** The piece rank {@code rank} sends at step {@code s} of a ring reduce-scatter over {@code n} ranks. */
    static int reduceScatterPiece(int n, int rank, int s) {
        return Math.floorMod(rank - s - 1, n);
    }

    /** The piece rank {@code rank} sends at step {@code s} of a ring all-gather over {@code n} ranks. */
    static int allGatherPiece(int n, int rank, int s) {
        return Math.floorMod(rank - s, n);
    }

    /** Length of piece {@code p} when {@code len} elements are cut into {@code n} pieces. */
    static int pieceLen(int len, int n, int p) {
        return pieceStart(len, n, p + 1) - pieceStart(len, n, p);
    }

    private int maxPiece(int len) {
        return (len + n - 1) / n;
    }

    private int pieceLen(int len, int p) {
        return pieceStart(len, n, p + 1) - pieceStart(len, n, p);
    }

    private void send(int rank, float[] src, int off, int len, float[] wire) {
        System.arraycopy(src, off, wire, 0, len);
        count(rank, 4L * len);
    }

    private synchronized void count(int rank, long bytes) {
        bytesSent[rank] += bytes;
        linkSeconds[rank] += link.seconds(bytes);
    }

    private void await() {
        if (cancelled) throw new CollectiveException(axis + "-axis collective cancelled", null);
        try {
            barrier.await(timeoutNanos, TimeUnit.NANOSECONDS);
        } catch (TimeoutException e) {
            cancel();
            throw new CollectiveException(axis + "-axis collective timed out after " + timeoutNanos / 1e9
                    + " s waiting for devices " + java.util.Arrays.toString(deviceIds), e);
        } catch (BrokenBarrierException e) {
            // The member that timed out breaks the barrier before it can mark the group, so a
            // member woken here may throw first: it marks the group itself, and whoever sees the
            // first failure finds the group cancelled.
            cancelled = true;
            throw new CollectiveException(axis + "-axis collective broken: another member timed out or the group was cancelled", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            cancel();
            throw new CollectiveException(axis + "-axis collective interrupted", e);
        }
    }
}
