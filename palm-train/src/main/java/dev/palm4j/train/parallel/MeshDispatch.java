package dev.palm4j.train.parallel;

import dev.palm4j.core.InputException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * The single controller's hands (Pathways style): runs one task on every device of the mesh at
 * once, each on the device's own compute thread, collects the results, and turns a device that
 * crashed or hung into a {@link MeshFailure} naming it, without ever waiting forever. It holds
 * the devices' workers (their model shards and optimizer state).
 */
public final class MeshDispatch {
    private final DeviceMesh mesh;
    private final Function<SimulatedDevice, DeviceWorker> factory;
    private final double timeoutSeconds;
    private final boolean multiProcess;
    private final DeviceWorker[] workers; // by the mesh's local index (device id with one process)

    /**
     * @param factory builds a device's worker, on the device's thread
     * @param timeoutSeconds how long the others get to finish once one device failed
     * @param multiProcess the mesh spans processes (MPI): a failure ends this process instead
     */
    public MeshDispatch(DeviceMesh mesh, Function<SimulatedDevice, DeviceWorker> factory, double timeoutSeconds,
                        boolean multiProcess) {
        this.mesh = mesh;
        this.factory = factory;
        this.timeoutSeconds = timeoutSeconds;
        this.multiProcess = multiProcess;
        this.workers = new DeviceWorker[mesh.size()];
    }

    /** The worker of the device at {@code index}. */
    public DeviceWorker worker(int index) {
        return workers[index];
    }

    /** A task for one device's worker. */
    @FunctionalInterface
    public interface DeviceTask<T> {
        T run(DeviceWorker w) throws Exception;
    }

    /** Devices that failed during a task (crashed or hung); the mesh recovers from it. */
    public static final class MeshFailure extends RuntimeException {
        public final Map<Integer, String> failed; // device id -> "crash" | "hang"

        MeshFailure(Map<Integer, String> failed, Throwable cause) {
            super("device failure: " + failed, cause);
            this.failed = failed;
        }
    }

    /**
     * Runs {@code task} on every device at once (each on its own thread) and returns the results
     * by device index; devices whose {@code create} is set get a new worker first. When one fails,
     * every collective is cancelled so no device waits for it, and the others get
     * {@code parallel.timeout_s} to finish; a device still busy then is hung. Simulated device
     * faults (crashes, hangs) are thrown as a {@link MeshFailure} naming the devices; anything
     * else (a bad input, a bug) is rethrown as it is.
     */
    public <T> List<T> onEveryDevice(DeviceTask<T> task, boolean[] create) {
        int n = mesh.size();
        // Each task records its outcome before it signals: the controller reads outcomes, not
        // futures (a future completes only after the task's last statement, after the signal).
        Object[] results = new Object[n];
        Throwable[] errors = new Throwable[n];
        boolean[] done = new boolean[n];
        java.util.concurrent.Semaphore finished = new java.util.concurrent.Semaphore(0);
        for (int i = 0; i < n; i++) {
            SimulatedDevice dev = mesh.device(i);
            int id = i;
            dev.submit(() -> {
                try {
                    if (create[id]) workers[id] = factory.apply(dev);
                    results[id] = task.run(workers[id]);
                } catch (Throwable t) {
                    errors[id] = t;
                } finally {
                    done[id] = true;
                    finished.release(); // publishes the outcome to the acquire below
                }
                return null;
            });
        }
        Throwable first = null;
        long deadline = Long.MAX_VALUE;
        int acquired = 0;
        try {
            for (; acquired < n; acquired++) {
                if (first == null) finished.acquire();
                else if (!finished.tryAcquire(Math.max(0, deadline - System.nanoTime()), java.util.concurrent.TimeUnit.NANOSECONDS))
                    break; // the rest are hung
                if (first != null) continue;
                for (int i = 0; i < n; i++)
                    if (errors[i] != null && (first == null || errors[i] instanceof SimulatedDevice.Failure)) first = errors[i];
                if (first != null) {
                    mesh.cancel();
                    // over MPI the other processes wait in collectives no one can cancel: this
                    // process ends with the error, and mpirun stops the job (docs/distributed.md)
                    if (multiProcess) rethrow(first);
                    deadline = System.nanoTime() + (long) (timeoutSeconds * 1e9);
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            mesh.cancel();
            throw new IllegalStateException("interrupted while waiting for the devices", e);
        }
        if (first == null) {
            List<T> out = new ArrayList<>();
            for (Object r : results) {
                @SuppressWarnings("unchecked") T t = (T) r;
                out.add(t);
            }
            return out;
        }
        // A device whose signal did not arrive in time is hung. (done[] of a task that signalled
        // after the deadline may be read stale here: it is then counted hung too, which is safe.)
        Map<Integer, String> failed = new java.util.TreeMap<>();
        for (int i = 0; i < n; i++) {
            if (!done[i] && acquired < n) failed.put(i, "hang");
            else if (errors[i] instanceof SimulatedDevice.Failure x) failed.put(i, x.kind);
        }
        if (!failed.isEmpty()) throw new MeshFailure(failed, first);
        mesh.reconnect();
        if (first instanceof dev.palm4j.train.parallel.CollectiveException)
            throw new InputException(first.getMessage(), "a device took longer than parallel.timeout_s = "
                    + timeoutSeconds + " s for its part of a step: raise it", first);
        rethrow(first);
        return null;
    }

    private static void rethrow(Throwable t) {
        if (t instanceof RuntimeException r) throw r;
        if (t instanceof Error e) throw e;
        throw new IllegalStateException(t);
    }
}
