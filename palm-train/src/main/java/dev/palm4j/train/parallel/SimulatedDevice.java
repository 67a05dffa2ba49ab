package dev.palm4j.train.parallel;

import dev.palm4j.core.InputException;
import dev.palm4j.core.kernels.Parallel;
import java.util.EnumMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * One simulated accelerator: a compute thread (and the kernel threads of its {@link Parallel}),
 * a communication thread (a copy engine, so collectives overlap with compute), and the memory it
 * allocated, counted by category against a budget. Work reaches it only as tasks the controller
 * submits; data reaches it only through {@link Collectives} or host transfers (loading and
 * saving checkpoints), never by another device reading its arrays.
 */
public final class SimulatedDevice implements AutoCloseable {

    /** What a device's memory holds. */
    public enum Memory { PARAMETERS, GRADIENTS, OPTIMIZER, ACTIVATIONS }

    /** Mesh-wide id (data rank * model size + model rank) and coordinates. */
    public final int id, dataRank, modelRank;
    private final Parallel par;
    private final ExecutorService compute, comm;
    private final long budgetBytes;
    private final Map<Memory, Long> used = new EnumMap<>(Memory.class);

    /**
     * @param threads kernel threads of this device (the compute thread included)
     * @param budgetBytes memory budget, 0 for none
     */
    public SimulatedDevice(int id, int dataRank, int modelRank, int threads, long budgetBytes) {
        this.id = id;
        this.dataRank = dataRank;
        this.modelRank = modelRank;
        this.par = Parallel.of(threads);
        this.budgetBytes = budgetBytes;
        this.compute = Executors.newSingleThreadExecutor(r -> thread(r, "palm4j-device-" + id));
        this.comm = Executors.newSingleThreadExecutor(r -> thread(r, "palm4j-device-" + id + "-comm"));
        for (Memory m : Memory.values()) used.put(m, 0L);
    }

    private static Thread thread(Runnable r, String name) {
        Thread t = new Thread(r, name);
        t.setDaemon(true);
        return t;
    }

    /** The kernel thread pool of this device; use it only from tasks running on the device. */
    public Parallel parallel() {
        return par;
    }

    /** Runs {@code task} on the compute thread. */
    public <T> Future<T> submit(Callable<T> task) {
        return compute.submit(task);
    }

    /** Runs {@code task} on the communication thread, in submission order. */
    public Future<?> submitComm(Runnable task) {
        return comm.submit(task);
    }

    /**
     * Records {@code bytes} of {@code kind} as allocated on this device; fails, before anything
     * is allocated, when the total would pass the budget.
     */
    public synchronized void reserve(Memory kind, long bytes) {
        long total = totalBytes() + bytes;
        if (budgetBytes > 0 && total > budgetBytes)
            throw new InputException(String.format(Locale.ROOT,
                    "device %d (data rank %d, model rank %d) needs %.1f MB (%s %.1f MB on top of %.1f MB) but its budget is %.1f MB",
                    id, dataRank, modelRank, total / 1e6, kind.name().toLowerCase(Locale.ROOT), bytes / 1e6,
                    totalBytes() / 1e6, budgetBytes / 1e6),
                    "raise parallel.device_memory_mb, use more model ranks, shard_optimizer, or a smaller micro-batch");
        used.merge(kind, bytes, Long::sum);
    }

    /** Bytes allocated per category. */
    public synchronized Map<Memory, Long> memory() {
        return Map.copyOf(used);
    }

    public synchronized long totalBytes() {
        long t = 0;
        for (long b : used.values()) t += b;
        return t;
    }

    @Override
    public String toString() {
        return "device " + id + " (data " + dataRank + ", model " + modelRank + ")";
    }

    /** A simulated hardware fault: the device's work ends with this (crash) or stops until it is replaced (hang). */
    public static final class Failure extends RuntimeException {
        public final int device;
        public final String kind;

        Failure(int device, String kind, String message) {
            super(message);
            this.device = device;
            this.kind = kind;
        }
    }

    /** Fails now, from a task running on this device: {@code "crash"} throws, {@code "hang"} blocks until the device is closed. */
    public void fail(String kind, long step) {
        if (kind.equals("hang")) {
            try {
                new java.util.concurrent.CountDownLatch(1).await(); // until close() interrupts the thread
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        throw new Failure(id, kind, this + ": injected " + kind + " at step " + step);
    }

    /** Stops the device's threads; a task blocked on it (a hang) is interrupted. */
    @Override
    public void close() {
        compute.shutdownNow();
        comm.shutdownNow();
        par.close();
    }
}
