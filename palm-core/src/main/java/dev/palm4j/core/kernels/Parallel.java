package dev.palm4j.core.kernels;

import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;

/**
 * The one way kernels split work across threads.
 *
 * <p>A {@code Parallel} of width {@code n} owns {@code n - 1} daemon worker threads; the calling
 * thread is the n-th. {@link #forEach} hands out task indices from a shared counter, so a task
 * must write only its own part of the output: the result never depends on which thread ran
 * which task, nor on the width. Kernels keep reductions inside one task (or reduce fixed chunks
 * in a fixed order afterwards) so that results are bitwise the same for every width.
 *
 * <p>A simulated device owns one {@code Parallel} sized to its thread budget. A nested or
 * concurrent call on a busy instance runs inline on the caller, which is always correct.
 */
public final class Parallel implements AutoCloseable {

    /** Runs everything on the calling thread. */
    public static final Parallel SERIAL = new Parallel(1);

    /** Body of a parallel loop over task indices. */
    @FunctionalInterface
    public interface Task {
        void run(int task);
    }

    /** Body of a parallel loop over a contiguous range {@code [lo, hi)}. */
    @FunctionalInterface
    public interface Range {
        void run(int lo, int hi);
    }

    private static final int SPIN_NANOS = 50_000; // workers spin this long before parking

    private final int width;
    private final Thread[] workers;
    private final AtomicBoolean busy = new AtomicBoolean();
    private volatile boolean closed;

    // The current job; published by writing `generation` last.
    private Task job;
    private int jobTasks;
    private final AtomicInteger nextTask = new AtomicInteger();
    private final AtomicInteger running = new AtomicInteger();
    private final AtomicReference<Throwable> failure = new AtomicReference<>();
    private volatile Thread caller;
    private volatile long generation;

    private Parallel(int width) {
        this.width = width;
        this.workers = new Thread[width - 1];
        for (int i = 0; i < workers.length; i++) {
            Thread t = new Thread(this::workerLoop, "palm4j-parallel-" + i);
            t.setDaemon(true);
            workers[i] = t;
            t.start();
        }
    }

    /** A pool of {@code threads} (the caller included); 1 gives {@link #SERIAL}. */
    public static Parallel of(int threads) {
        if (threads < 1) throw new IllegalArgumentException("threads must be >= 1, got " + threads);
        return threads == 1 ? SERIAL : new Parallel(threads);
    }

    /** Number of threads a job runs on, the caller included. */
    public int width() {
        return width;
    }

    /** Runs {@code body.run(t)} for every {@code t} in {@code [0, tasks)} and waits for all. */
    public void forEach(int tasks, Task body) {
        if (tasks <= 0) return;
        if (tasks == 1 || width == 1 || !busy.compareAndSet(false, true)) {
            for (int t = 0; t < tasks; t++) body.run(t);
            return;
        }
        try {
            job = body;
            jobTasks = tasks;
            failure.set(null);
            nextTask.set(0);
            running.set(workers.length + 1);
            caller = Thread.currentThread();
            generation++; // publishes the fields above
            for (Thread w : workers) LockSupport.unpark(w);
            drain();
            running.decrementAndGet();
            long deadline = System.nanoTime() + SPIN_NANOS;
            while (running.get() != 0) {
                if (System.nanoTime() < deadline) Thread.onSpinWait();
                else LockSupport.parkNanos(this, 100_000);
            }
            job = null;
            Throwable t = failure.get();
            if (t instanceof RuntimeException e) throw e;
            if (t instanceof Error e) throw e;
            if (t != null) throw new IllegalStateException(t);
        } finally {
            busy.set(false);
        }
    }

    /**
     * Splits {@code [0, n)} into at most {@code 4 * width} contiguous chunks of at least
     * {@code grain} elements and runs them in parallel.
     */
    public void forRange(int n, int grain, Range body) {
        if (n <= 0) return;
        int chunks = Math.max(1, Math.min(4 * width, n / Math.max(1, grain)));
        if (chunks == 1) {
            body.run(0, n);
            return;
        }
        forEach(chunks, c -> body.run((int) ((long) n * c / chunks), (int) ((long) n * (c + 1) / chunks)));
    }

    private void drain() {
        Task body = job;
        int tasks = jobTasks;
        for (int t; (t = nextTask.getAndIncrement()) < tasks; ) {
            try {
                body.run(t);
            } catch (Throwable e) {
                failure.compareAndSet(null, e);
            }
        }
    }

    private void workerLoop() {
        long seen = 0;
        while (!closed) {
            long deadline = System.nanoTime() + SPIN_NANOS;
            while (generation == seen && !closed) {
                if (System.nanoTime() < deadline) Thread.onSpinWait();
                else LockSupport.park(this);
            }
            if (closed) return;
            seen = generation;
            drain();
            if (running.decrementAndGet() == 0) LockSupport.unpark(caller);
        }
    }

    /** Stops the worker threads; the instance must not be used afterwards. */
    @Override
    public void close() {
        if (this == SERIAL) return;
        closed = true;
        for (Thread w : workers) LockSupport.unpark(w);
    }
}
