package dev.palm4j.train.parallel;

import com.sun.jna.Library;
import com.sun.jna.Memory;
import com.sun.jna.Native;
import com.sun.jna.NativeLibrary;
import com.sun.jna.Pointer;
import dev.palm4j.core.InputException;
import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The {@link Communicator} collectives over Open MPI, one rank per process: the data axis of
 * {@code parallel.backend: mpi} (docs/distributed.md). Open MPI's C library is called through
 * JNA direct mapping (Debian's Open MPI ships no usable Java bindings); handles are the addresses
 * of Open MPI's predefined globals ({@code ompi_mpi_comm_world}, {@code ompi_mpi_float}, ...).
 *
 * <p>Java arrays never go to MPI: each communicator copies the range into its own off-heap
 * staging buffer, runs the collective there in place ({@code MPI_IN_PLACE}) and copies the result
 * back. The buffers are kept and grow only when a larger range comes, so a training step
 * allocates nothing. All-reduce and broadcast go in chunks of at most {@link #CHUNK} floats,
 * which bounds the staging buffer; reduce-scatter and all-gather take a whole gradient bucket.
 *
 * <p>Numbers: MPI sums in its own order. At 2 ranks every element is {@code a + b}, which is
 * commutative, so the results equal the in-process ring's bit for bit; beyond 2 they agree to
 * float rounding. The all-reduce of doubles (losses, norms, statistics) is an all-gather summed
 * here in rank order, as the ring does: the same bits on any number of ranks. Bytes are counted
 * as the ring would send them ({@link Collectives}), with the link model of the axis.
 *
 * <p>Threads: MPI is initialised with {@code MPI_THREAD_MULTIPLE}; one communicator is used by
 * one thread at a time (each model rank's data axis has its own, from {@link #dup}).
 */
public final class MpiCommunicator implements Communicator {
    /**
     * Floats per MPI call of all-reduce and broadcast: 2 MB, which stays in cache between the copy
     * in, MPI and the copy out (measured best of 1 to 16 MB; system property palm4j.mpi.chunk).
     */
    static final int CHUNK = Integer.getInteger("palm4j.mpi.chunk", 1 << 19);
    /** Thread support levels of {@link #threadLevel}. */
    public static final int MPI_THREAD_SERIALIZED = 2, MPI_THREAD_MULTIPLE = 3;
    private static final long IN_PLACE = 1;   // Open MPI's MPI_IN_PLACE is (void *) 1
    private static final int RTLD_NOW = 0x2, RTLD_GLOBAL = 0x100;
    private static final int COMM_TYPE_SHARED = 0; // MPI_COMM_TYPE_SHARED

    /** Environment variable naming libmpi's path when it is not found in the usual places. */
    public static final String LIBRARY_ENV = "PALM4J_MPI_LIBRARY";

    // process-wide: the library, its predefined handles, the world communicator
    private static NativeLibrary library;
    private static long commWorld, typeFloat, typeDouble, opSum, infoNull;
    private static MpiCommunicator world;
    private static int threadLevel, localRank, localSize;
    private static boolean finished;

    private final long comm;          // MPI_Comm handle
    private final int rank, size;
    private final Link link;          // null: count bytes, no link time
    private Memory staging;           // floats, or doubles for the small collectives
    private final Memory counts, displs; // one int per rank
    private double[] gathered = new double[0];
    private long bytesSent;
    private double linkSeconds;

    private MpiCommunicator(long comm, Link link) {
        this.comm = comm;
        this.link = link;
        int[] out = new int[1];
        check(Lib.MPI_Comm_rank(comm, out), "MPI_Comm_rank");
        this.rank = out[0];
        check(Lib.MPI_Comm_size(comm, out), "MPI_Comm_size");
        this.size = out[0];
        this.counts = new Memory(4L * size);
        this.displs = new Memory(4L * size);
        this.staging = new Memory(1 << 16);
    }

    /** Whether this process was started by an MPI launcher (mpirun, mpiexec, or srun with PMIx). */
    public static boolean launchedByMpi() {
        return System.getenv("OMPI_COMM_WORLD_SIZE") != null || System.getenv("PMIX_RANK") != null;
    }

    /** Whether Open MPI's library can be loaded here (loading starts nothing: no MPI_Init). */
    public static synchronized boolean libraryAvailable() {
        try {
            load();
            return true;
        } catch (InputException e) {
            return false;
        }
    }

    /**
     * Every process of the job ({@code MPI_COMM_WORLD}), initialising MPI on the first call with
     * {@code MPI_THREAD_MULTIPLE}. Fails with an {@link InputException} outside mpirun, or when
     * Open MPI's library cannot be loaded. Counts no link time; {@link #dup} gives communicators
     * with a link model.
     */
    public static synchronized MpiCommunicator world() {
        if (world != null) return world;
        if (finished) throw new IllegalStateException("MPI was finalised in this process: it cannot start again");
        if (!launchedByMpi())
            throw new InputException("parallel.backend = mpi, but this process was not started by mpirun",
                    "launch it as: mpirun -np N ./palm train --config FILE --set parallel.data=N --set parallel.backend=mpi"
                            + " (docs/distributed.md), or leave parallel.backend at local");
        load();
        int[] flag = new int[1];
        check(Lib.MPI_Initialized(flag), "MPI_Initialized");
        int[] provided = new int[1];
        if (flag[0] == 0) check(Lib.MPI_Init_thread(Pointer.NULL, Pointer.NULL, MPI_THREAD_MULTIPLE, provided), "MPI_Init_thread");
        else check(Lib.MPI_Query_thread(provided), "MPI_Query_thread");
        threadLevel = provided[0];
        world = new MpiCommunicator(commWorld, null);
        // the ranks on this host: a communicator of the processes that share memory with this one
        long[] node = new long[1];
        check(Lib.MPI_Comm_split_type(commWorld, COMM_TYPE_SHARED, world.rank, infoNull, node), "MPI_Comm_split_type");
        MpiCommunicator host = new MpiCommunicator(node[0], null);
        localRank = host.rank;
        localSize = host.size;
        check(Lib.MPI_Comm_free(node), "MPI_Comm_free");
        return world;
    }

    /** The thread support MPI granted (3 = {@code MPI_THREAD_MULTIPLE}); valid after {@link #world}. */
    public static int threadLevel() {
        return threadLevel;
    }

    /** This process's rank among the job's processes on its host (0 for the first); valid after {@link #world}. */
    public static int localRank() {
        return localRank;
    }

    /** The job's processes on this host; valid after {@link #world}. */
    public static int localSize() {
        return localSize;
    }

    /**
     * Ends MPI in this process ({@code MPI_Finalize}) when it was started; every process of the
     * job calls it once, after its last collective. A process that exits without it (an error,
     * a kill) makes mpirun stop the whole job.
     */
    public static synchronized void finish() {
        if (world == null || finished) return;
        finished = true;
        world = null;
        check(Lib.MPI_Finalize(), "MPI_Finalize");
    }

    /** A new communicator over the same processes (collectives on it never mix with this one's), counting link time on {@code link}. */
    public MpiCommunicator dup(Link link) {
        long[] out = new long[1];
        check(Lib.MPI_Comm_dup(comm, out), "MPI_Comm_dup");
        return new MpiCommunicator(out[0], link);
    }

    @Override
    public int rank() {
        return rank;
    }

    @Override
    public int size() {
        return size;
    }

    @Override
    public void allReduce(float[] buf, int off, int len) {
        if (size == 1) return;
        countRing(len, true);
        countRing(len, false);
        for (int done = 0; done < len; done += CHUNK) {
            int m = Math.min(CHUNK, len - done);
            Memory s = staging(4L * m);
            s.write(0, buf, off + done, m);
            check(Lib.MPI_Allreduce(IN_PLACE, Pointer.nativeValue(s), m, typeFloat, opSum, comm), "MPI_Allreduce");
            s.read(0, buf, off + done, m);
        }
    }

    @Override
    public void reduceScatter(float[] buf, int off, int len) {
        if (size == 1) return;
        countRing(len, true);
        Memory s = staging(4L * len);
        s.write(0, buf, off, len);
        pieces(len);
        // in place: the input is the whole buffer; this rank's summed piece lands at its start
        check(Lib.MPI_Reduce_scatter(IN_PLACE, Pointer.nativeValue(s), Pointer.nativeValue(counts), typeFloat, opSum, comm),
                "MPI_Reduce_scatter");
        s.read(0, buf, off + Collectives.pieceStart(len, size, rank), Collectives.pieceLen(len, size, rank));
    }

    @Override
    public void allGather(float[] buf, int off, int len) {
        if (size == 1) return;
        countRing(len, false);
        Memory s = staging(4L * len);
        int from = Collectives.pieceStart(len, size, rank);
        s.write(4L * from, buf, off + from, Collectives.pieceLen(len, size, rank));
        pieces(len);
        check(Lib.MPI_Allgatherv(IN_PLACE, 0, typeFloat, Pointer.nativeValue(s), Pointer.nativeValue(counts),
                Pointer.nativeValue(displs), typeFloat, comm), "MPI_Allgatherv");
        s.read(0, buf, off, len);
    }

    @Override
    public void broadcast(int root, float[] buf, int off, int len) {
        if (size == 1) return;
        if (rank == root) for (int r = 1; r < size; r++) count(4L * len);
        for (int done = 0; done < len; done += CHUNK) {
            int m = Math.min(CHUNK, len - done);
            Memory s = staging(4L * m);
            if (rank == root) s.write(0, buf, off + done, m);
            check(Lib.MPI_Bcast(Pointer.nativeValue(s), m, typeFloat, root, comm), "MPI_Bcast");
            if (rank != root) s.read(0, buf, off + done, m);
        }
    }

    @Override
    public void allReduce(double[] buf, int off, int len) {
        if (size == 1) return;
        for (int r = 1; r < size; r++) count(8L * len);
        Memory s = staging(8L * size * len);
        s.write(8L * rank * len, buf, off, len);
        check(Lib.MPI_Allgather(IN_PLACE, 0, typeDouble, Pointer.nativeValue(s), len, typeDouble, comm), "MPI_Allgather");
        if (gathered.length < size * len) gathered = new double[size * len];
        s.read(0, gathered, 0, size * len);
        for (int i = 0; i < len; i++) {
            double sum = 0;
            for (int r = 0; r < size; r++) sum += gathered[r * len + i];
            buf[off + i] = sum;
        }
    }

    @Override
    public void broadcast(int root, double[] buf, int off, int len) {
        if (size == 1) return;
        if (rank == root) for (int r = 1; r < size; r++) count(8L * len);
        Memory s = staging(8L * len);
        if (rank == root) s.write(0, buf, off, len);
        check(Lib.MPI_Bcast(Pointer.nativeValue(s), len, typeDouble, root, comm), "MPI_Bcast");
        if (rank != root) s.read(0, buf, off, len);
    }

    /** All-reduce of {@code floats} floats already in the staging buffer: MPI alone, without the copies from and to a Java array (benchmarks). */
    void allReduceStaged(int floats) {
        Memory s = staging(4L * floats);
        check(Lib.MPI_Allreduce(IN_PLACE, Pointer.nativeValue(s), floats, typeFloat, opSum, comm), "MPI_Allreduce");
    }

    @Override
    public void barrier() {
        check(Lib.MPI_Barrier(comm), "MPI_Barrier");
    }

    @Override
    public synchronized Collectives.Traffic takeTraffic() {
        Collectives.Traffic t = new Collectives.Traffic(bytesSent, linkSeconds);
        bytesSent = 0;
        linkSeconds = 0;
        return t;
    }

    @Override
    public String toString() {
        return "MPI rank " + rank + " of " + size;
    }

    // the messages the ring would send: n - 1 pieces, as Collectives counts them
    private void countRing(int len, boolean reduceScatter) {
        for (int s = 0; s < size - 1; s++) {
            int p = reduceScatter ? Collectives.reduceScatterPiece(size, rank, s) : Collectives.allGatherPiece(size, rank, s);
            count(4L * Collectives.pieceLen(len, size, p));
        }
    }

    private synchronized void count(long bytes) {
        bytesSent += bytes;
        if (link != null) linkSeconds += link.seconds(bytes);
    }

    // counts and displacements of the pieces of len floats
    private void pieces(int len) {
        for (int p = 0; p < size; p++) {
            counts.setInt(4L * p, Collectives.pieceLen(len, size, p));
            displs.setInt(4L * p, Collectives.pieceStart(len, size, p));
        }
    }

    private Memory staging(long bytes) {
        if (staging.size() < bytes) {
            staging.close();
            staging = new Memory(Math.max(bytes, 2 * staging.size()));
        }
        return staging;
    }

    private static void check(int code, String call) {
        if (code != 0) throw new IllegalStateException(call + " failed with MPI error " + code);
    }

    // Loads libmpi (global symbols, so Open MPI's own plugins resolve against it) and binds the calls.
    private static void load() {
        if (library != null) return;
        List<String> tried = new ArrayList<>();
        NativeLibrary lib = null;
        for (String candidate : candidates()) {
            try {
                lib = NativeLibrary.getInstance(candidate, Map.of(Library.OPTION_OPEN_FLAGS, RTLD_NOW | RTLD_GLOBAL));
                break;
            } catch (UnsatisfiedLinkError e) {
                tried.add(candidate);
            }
        }
        if (lib == null)
            throw new InputException("parallel.backend = mpi: cannot load Open MPI's library libmpi (tried " + String.join(", ", tried) + ")",
                    "install Open MPI (Debian: apt-get install openmpi-bin libopenmpi-dev), or set " + LIBRARY_ENV
                            + " to the path of libmpi.so.40");
        try {
            commWorld = global(lib, "ompi_mpi_comm_world");
            typeFloat = global(lib, "ompi_mpi_float");
            typeDouble = global(lib, "ompi_mpi_double");
            opSum = global(lib, "ompi_mpi_op_sum");
            infoNull = global(lib, "ompi_mpi_info_null");
        } catch (UnsatisfiedLinkError e) {
            throw new InputException("parallel.backend = mpi: " + lib.getFile() + " is not Open MPI's libmpi (" + e.getMessage() + ")",
                    "palm4j's MPI backend needs Open MPI 4 or newer: set " + LIBRARY_ENV + " to its libmpi.so.40");
        }
        Native.register(Lib.class, lib);
        library = lib;
    }

    private static long global(NativeLibrary lib, String name) {
        return Pointer.nativeValue(lib.getGlobalVariableAddress(name));
    }

    // PALM4J_MPI_LIBRARY alone when set; else the linker's name, the runtime package's soname, then
    // libmpi.so.40 in LD_LIBRARY_PATH, beside mpirun and in the usual library directories
    private static List<String> candidates() {
        String env = System.getenv(LIBRARY_ENV);
        if (env != null && !env.isBlank()) return List.of(env);
        Set<String> out = new LinkedHashSet<>(List.of("mpi", "libmpi.so.40"));
        List<String> dirs = new ArrayList<>();
        String ld = System.getenv("LD_LIBRARY_PATH");
        if (ld != null) for (String d : ld.split(File.pathSeparator)) if (!d.isBlank()) dirs.add(d);
        String path = System.getenv("PATH");
        if (path != null)
            for (String d : path.split(File.pathSeparator))
                if (!d.isBlank() && Files.isExecutable(Path.of(d, "mpirun"))) dirs.add(Path.of(d).resolveSibling("lib").toString());
        String arch = System.getProperty("os.arch").equals("aarch64") ? "aarch64" : "x86_64";
        dirs.addAll(List.of("/usr/lib/" + arch + "-linux-gnu", "/usr/lib64/openmpi/lib", "/usr/lib/openmpi/lib", "/usr/lib64",
                "/usr/lib", "/usr/local/lib", "/opt/openmpi/lib"));
        for (String d : dirs) {
            Path p = Path.of(d, "libmpi.so.40");
            if (Files.exists(p)) out.add(p.toString());
        }
        return List.copyOf(out);
    }

    /** Open MPI's C functions (direct mapping: pointers and handles as addresses, nothing allocated per call). */
    static final class Lib {
        private Lib() {}

        static native int MPI_Initialized(int[] flag);
        static native int MPI_Init_thread(Pointer argc, Pointer argv, int required, int[] provided);
        static native int MPI_Query_thread(int[] provided);
        static native int MPI_Finalize();
        static native int MPI_Comm_rank(long comm, int[] rank);
        static native int MPI_Comm_size(long comm, int[] size);
        static native int MPI_Comm_dup(long comm, long[] newcomm);
        static native int MPI_Comm_split_type(long comm, int splitType, int key, long info, long[] newcomm);
        static native int MPI_Comm_free(long[] comm);
        static native int MPI_Allreduce(long sendbuf, long recvbuf, int count, long datatype, long op, long comm);
        static native int MPI_Reduce_scatter(long sendbuf, long recvbuf, long recvcounts, long datatype, long op, long comm);
        static native int MPI_Allgatherv(long sendbuf, int sendcount, long sendtype, long recvbuf, long recvcounts, long displs,
                                         long recvtype, long comm);
        static native int MPI_Allgather(long sendbuf, int sendcount, long sendtype, long recvbuf, int recvcount, long recvtype,
                                        long comm);
        static native int MPI_Bcast(long buffer, int count, long datatype, int root, long comm);
        static native int MPI_Barrier(long comm);
    }
}
