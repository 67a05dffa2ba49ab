package dev.palm4j.train.parallel;

import dev.palm4j.core.model.ModelGroup;

/**
 * A {@code data x model} mesh of simulated devices (DESIGN.md, "Parallelism"). Device
 * {@code (d, m)} has id {@code d * model + m}. The devices of one data rank form a model-axis
 * group (they hold the shards of one model replica); the devices of one model rank form a
 * data-axis group (they hold the same shard and average its gradients). Each group has its own
 * {@link Collectives} and link model.
 *
 * <p>Threads: the run's thread budget is divided among the devices, at least one each, so a mesh
 * of more devices than cores works (its devices share the cores).
 */
public final class DeviceMesh implements AutoCloseable {

    /** How the mesh is built: axes, threads, memory budget per device, link models, collective timeout. */
    public record Spec(int data, int model, int threads, long deviceBudgetBytes, Link modelLink, Link dataLink,
                       double timeoutSeconds) {
        public Spec {
            if (data < 1 || model < 1) throw new IllegalArgumentException("mesh " + data + " x " + model);
            if (threads < 1) throw new IllegalArgumentException("threads " + threads);
        }

        public int devices() {
            return data * model;
        }

        /** Kernel threads per device. */
        public int threadsPerDevice() {
            return Math.max(1, threads / devices());
        }
    }

    public final Spec spec;
    private final SimulatedDevice[] devices;
    private volatile Collectives[] modelAxes, dataAxes; // per data rank, per model rank

    public DeviceMesh(Spec spec) {
        this.spec = spec;
        devices = new SimulatedDevice[spec.devices()];
        for (int i = 0; i < devices.length; i++) devices[i] = newDevice(i);
        connect();
    }

    private SimulatedDevice newDevice(int id) {
        return new SimulatedDevice(id, id / spec.model(), id % spec.model(), spec.threadsPerDevice(), spec.deviceBudgetBytes());
    }

    // fresh collectives for every group (after a failure the old ones are cancelled)
    private void connect() {
        modelAxes = new Collectives[spec.data()];
        dataAxes = new Collectives[spec.model()];
        for (int d = 0; d < spec.data(); d++) {
            int[] ids = new int[spec.model()];
            for (int m = 0; m < spec.model(); m++) ids[m] = d * spec.model() + m;
            modelAxes[d] = new Collectives("model", ids, spec.modelLink(), spec.timeoutSeconds());
        }
        for (int m = 0; m < spec.model(); m++) {
            int[] ids = new int[spec.data()];
            for (int d = 0; d < spec.data(); d++) ids[d] = d * spec.model() + m;
            dataAxes[m] = new Collectives("data", ids, spec.dataLink(), spec.timeoutSeconds());
        }
    }

    public int size() {
        return devices.length;
    }

    public SimulatedDevice device(int id) {
        return devices[id];
    }

    /** The model-axis group of {@code dev} (its model rank is its rank there). */
    public Collectives modelAxis(SimulatedDevice dev) {
        return modelAxes[dev.dataRank];
    }

    /** The data-axis group of {@code dev} (its data rank is its rank there). */
    public Collectives dataAxis(SimulatedDevice dev) {
        return dataAxes[dev.modelRank];
    }

    /** {@code dev}'s model axis as the model code sees it (whichever collectives the mesh has connected now). */
    public ModelGroup modelGroup(SimulatedDevice dev) {
        int rank = dev.modelRank, size = spec.model();
        return new ModelGroup() {
            @Override public int rank() { return rank; }
            @Override public int size() { return size; }
            @Override public void allReduceSum(float[] buf, int off, int len) { modelAxis(dev).allReduce(rank, buf, off, len); }
        };
    }

    /** Breaks every collective in flight, so no device waits for one that failed. */
    public void cancel() {
        for (Collectives c : modelAxes) c.cancel();
        for (Collectives c : dataAxes) c.cancel();
    }

    /**
     * Replaces device {@code id} by a fresh one at the same place (its threads and memory are
     * gone) and reconnects every group, so the mesh keeps its shape. The caller restores the
     * devices' state.
     */
    public SimulatedDevice replace(int id) {
        devices[id].close();
        devices[id] = newDevice(id);
        connect();
        return devices[id];
    }

    /** After a cancel, new collectives for every group (the devices stay). */
    public void reconnect() {
        connect();
    }

    /** Bytes and simulated link time of {@code dev} on both axes since the last call. */
    public Collectives.Traffic[] takeTraffic(SimulatedDevice dev) {
        return new Collectives.Traffic[] {modelAxis(dev).takeTraffic(dev.modelRank), dataAxis(dev).takeTraffic(dev.dataRank)};
    }

    @Override
    public void close() {
        cancel();
        for (SimulatedDevice d : devices) d.close();
    }
}
