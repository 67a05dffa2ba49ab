package dev.palm4j.train.parallel;

import dev.palm4j.core.model.ModelGroup;
import java.util.List;

/**
 * A {@code data x model} mesh of simulated devices (DESIGN.md, "Parallelism"). Device
 * {@code (d, m)} has id {@code d * model + m}. The devices of one data rank form a model-axis
 * group (they hold the shards of one model replica); the devices of one model rank form a
 * data-axis group (they hold the same shard and average its gradients). Each group has its own
 * {@link Communicator} and link model.
 *
 * <p>This process holds either every device ({@link #DeviceMesh(Spec)}: both axes are in-process
 * {@link Collectives}) or the devices of one data rank ({@link #DeviceMesh(Spec, int, List)}: the
 * MPI backend, where the model axis stays in-process and each model rank's data axis is a
 * communicator over the processes, docs/distributed.md). Local indexes ({@link #device},
 * {@link #size}) run over the devices held here; device ids and ranks are the mesh's.
 *
 * <p>Threads: the process's thread budget is divided among the devices it holds, at least one
 * each, so a mesh of more devices than cores works (its devices share the cores).
 */
public final class DeviceMesh implements AutoCloseable {

    /**
     * How the mesh is built: axes, kernel threads of this process, memory budget per device, link
     * models, collective timeout.
     */
    public record Spec(int data, int model, int threads, long deviceBudgetBytes, Link modelLink, Link dataLink,
                       double timeoutSeconds) {
        public Spec {
            if (data < 1 || model < 1) throw new IllegalArgumentException("mesh " + data + " x " + model);
            if (threads < 1) throw new IllegalArgumentException("threads " + threads);
        }

        public int devices() {
            return data * model;
        }
    }

    public final Spec spec;
    private final int firstDataRank, dataRanksHere;
    private final SimulatedDevice[] devices;       // by local index: (dataRank - firstDataRank) * model + modelRank
    private final List<Communicator> remoteDataAxes; // per model rank, over processes; null when the data axis is in-process
    private volatile Collectives[] modelAxes, dataAxes; // per data rank held here, per model rank (in-process only)
    private volatile Communicator[][] modelMembers, dataMembers; // [local data rank][model rank]

    /** Every device of the mesh in this process. */
    public DeviceMesh(Spec spec) {
        this(spec, 0, spec.data(), null);
    }

    /**
     * The devices of data rank {@code dataRank} (all its model ranks) in this process; the data
     * axis of model rank {@code m} is {@code dataAxes.get(m)}, whose rank must be {@code dataRank}.
     */
    public DeviceMesh(Spec spec, int dataRank, List<Communicator> dataAxes) {
        this(spec, dataRank, 1, checked(spec, dataRank, dataAxes));
    }

    private static List<Communicator> checked(Spec spec, int dataRank, List<Communicator> dataAxes) {
        if (dataAxes.size() != spec.model()) throw new IllegalArgumentException(dataAxes.size() + " data axes for " + spec.model() + " model ranks");
        for (Communicator c : dataAxes)
            if (c.rank() != dataRank || c.size() != spec.data())
                throw new IllegalArgumentException("data axis " + c + " for data rank " + dataRank + " of " + spec.data());
        return List.copyOf(dataAxes);
    }

    private DeviceMesh(Spec spec, int firstDataRank, int dataRanksHere, List<Communicator> remoteDataAxes) {
        this.spec = spec;
        this.firstDataRank = firstDataRank;
        this.dataRanksHere = dataRanksHere;
        this.remoteDataAxes = remoteDataAxes;
        devices = new SimulatedDevice[dataRanksHere * spec.model()];
        for (int i = 0; i < devices.length; i++) devices[i] = newDevice(i);
        connect();
    }

    private SimulatedDevice newDevice(int index) {
        int id = firstDataRank * spec.model() + index;
        return new SimulatedDevice(id, id / spec.model(), id % spec.model(), threadsPerDevice(), spec.deviceBudgetBytes());
    }

    /** Kernel threads of each device: this process's threads over the devices it holds, at least one. */
    public int threadsPerDevice() {
        return Math.max(1, spec.threads() / devices.length);
    }

    // fresh in-process collectives for every group (after a failure the old ones are cancelled)
    private void connect() {
        int model = spec.model();
        Collectives[] ma = new Collectives[dataRanksHere];
        Communicator[][] mm = new Communicator[dataRanksHere][model], dm = new Communicator[dataRanksHere][model];
        for (int d = 0; d < dataRanksHere; d++) {
            int[] ids = new int[model];
            for (int m = 0; m < model; m++) ids[m] = (firstDataRank + d) * model + m;
            ma[d] = new Collectives("model", ids, spec.modelLink(), spec.timeoutSeconds());
            for (int m = 0; m < model; m++) mm[d][m] = ma[d].member(m);
        }
        Collectives[] da = null;
        if (remoteDataAxes == null) {
            da = new Collectives[model];
            for (int m = 0; m < model; m++) {
                int[] ids = new int[spec.data()];
                for (int d = 0; d < spec.data(); d++) ids[d] = d * model + m;
                da[m] = new Collectives("data", ids, spec.dataLink(), spec.timeoutSeconds());
                for (int d = 0; d < spec.data(); d++) dm[d][m] = da[m].member(d);
            }
        } else {
            for (int m = 0; m < model; m++) dm[0][m] = remoteDataAxes.get(m);
        }
        modelAxes = ma;
        dataAxes = da;
        modelMembers = mm;
        dataMembers = dm;
    }

    /** Devices held in this process. */
    public int size() {
        return devices.length;
    }

    /** The device at local index {@code index} (0 .. size - 1; its id is the mesh's). */
    public SimulatedDevice device(int index) {
        return devices[index];
    }

    /** The lowest data rank held in this process (0 unless the data axis spans processes). */
    public int firstDataRank() {
        return firstDataRank;
    }

    /** Whether every data rank is in this process (false with the MPI backend and more than one data rank). */
    public boolean dataAxisInProcess() {
        return remoteDataAxes == null || spec.data() == 1;
    }

    /** The model-axis group of {@code dev} as {@code dev} sees it (its model rank is its rank there). */
    public Communicator modelAxis(SimulatedDevice dev) {
        return modelMembers[dev.dataRank - firstDataRank][dev.modelRank];
    }

    /** The data-axis group of {@code dev} as {@code dev} sees it (its data rank is its rank there). */
    public Communicator dataAxis(SimulatedDevice dev) {
        return dataMembers[dev.dataRank - firstDataRank][dev.modelRank];
    }

    /** {@code dev}'s model axis as the model code sees it (whichever collectives the mesh has connected now). */
    public ModelGroup modelGroup(SimulatedDevice dev) {
        int rank = dev.modelRank, size = spec.model();
        return new ModelGroup() {
            @Override public int rank() { return rank; }
            @Override public int size() { return size; }
            @Override public void allReduceSum(float[] buf, int off, int len) { modelAxis(dev).allReduce(buf, off, len); }
        };
    }

    /** Breaks every in-process collective in flight, so no device waits for one that failed (an MPI collective cannot be broken). */
    public void cancel() {
        for (Collectives c : modelAxes) c.cancel();
        if (dataAxes != null) for (Collectives c : dataAxes) c.cancel();
    }

    /**
     * Replaces the device at local index {@code index} by a fresh one at the same place (its
     * threads and memory are gone) and reconnects every group, so the mesh keeps its shape. The
     * caller restores the devices' state.
     */
    public SimulatedDevice replace(int index) {
        devices[index].close();
        devices[index] = newDevice(index);
        connect();
        return devices[index];
    }

    /** After a cancel, new collectives for every group (the devices stay). */
    public void reconnect() {
        connect();
    }

    /** Bytes and simulated link time of {@code dev} on both axes since the last call. */
    public Collectives.Traffic[] takeTraffic(SimulatedDevice dev) {
        return new Collectives.Traffic[] {modelAxis(dev).takeTraffic(), dataAxis(dev).takeTraffic()};
    }

    @Override
    public void close() {
        cancel();
        for (SimulatedDevice d : devices) d.close();
    }
}
