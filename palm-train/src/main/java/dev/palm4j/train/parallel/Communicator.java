package dev.palm4j.train.parallel;

/**
 * One member's handle on a group of ranks that sum and move buffers: the members of one mesh
 * axis, or the processes of a run. Every member calls the same collectives in the same order,
 * each on its own buffer. Two implementations:
 * <ul>
 *   <li>a member of an in-process {@link Collectives} ring ({@link Collectives#member}): simulated
 *       devices of this JVM, with timeouts and cancel;</li>
 *   <li>{@link MpiCommunicator}: one rank per process, over Open MPI (the data axis of
 *       {@code parallel.backend: mpi}). An MPI collective cannot time out or be cancelled: when a
 *       process dies, mpirun stops the job.</li>
 * </ul>
 * A buffer of {@code len} floats is cut into {@link #size} pieces at
 * {@link Collectives#pieceStart}; reduce-scatter leaves piece {@link #rank} summed on this member,
 * all-gather starts from it. Bytes are counted the same way by both (what the ring algorithm sends,
 * {@link Collectives}), so communication reports do not depend on the backend.
 */
public interface Communicator {
    /** This member's rank, 0 .. size - 1. */
    int rank();

    /** Members of the group. */
    int size();

    /** Sums {@code buf[off, off+len)} over the group, in place on every member (the same bits on every member). */
    void allReduce(float[] buf, int off, int len);

    /** Sums {@code buf[off, off+len)} over the group into this member's piece; the rest of the range is scratch afterwards. */
    void reduceScatter(float[] buf, int off, int len);

    /** Each member holds its piece of {@code buf[off, off+len)}; afterwards every member holds all of it. */
    void allGather(float[] buf, int off, int len);

    /** Copies {@code root}'s {@code buf[off, off+len)} to every member. */
    void broadcast(int root, float[] buf, int off, int len);

    /** Sums a few doubles over the group, adding the members' values in rank order from 0: the same bits on every member and backend. */
    void allReduce(double[] buf, int off, int len);

    /** Copies {@code root}'s {@code buf[off, off+len)} to every member. */
    void broadcast(int root, double[] buf, int off, int len);

    /** Returns when every member has called it. */
    void barrier();

    /** Bytes this member sent and their simulated time on the link model since the last call; resets both. */
    Collectives.Traffic takeTraffic();

    /** A group of one: every collective leaves the buffer as it is. */
    static Communicator single() {
        return Single.INSTANCE;
    }

    /** The group of one ({@link #single}). */
    final class Single implements Communicator {
        static final Single INSTANCE = new Single();

        private Single() {}

        @Override public int rank() { return 0; }
        @Override public int size() { return 1; }
        @Override public void allReduce(float[] buf, int off, int len) {}
        @Override public void reduceScatter(float[] buf, int off, int len) {}
        @Override public void allGather(float[] buf, int off, int len) {}
        @Override public void broadcast(int root, float[] buf, int off, int len) {}
        @Override public void allReduce(double[] buf, int off, int len) {}
        @Override public void broadcast(int root, double[] buf, int off, int len) {}
        @Override public void barrier() {}
        @Override public Collectives.Traffic takeTraffic() { return Collectives.Traffic.NONE; }
    }
}
