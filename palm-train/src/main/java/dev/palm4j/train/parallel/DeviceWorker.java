package dev.palm4j.train.parallel;

import dev.palm4j.core.kernels.Elementwise;
import dev.palm4j.core.kernels.Parallel;
import dev.palm4j.core.model.PalmConfig;
import dev.palm4j.core.model.PalmModel;
import dev.palm4j.core.model.ParamLayout;
import dev.palm4j.core.model.ParamLayout.Split;
import dev.palm4j.core.model.ParamLayout.Tensor;
import dev.palm4j.train.data.BatchSource;
import dev.palm4j.train.optim.Adafactor;
import dev.palm4j.train.optim.Optimizer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;

/**
 * What one simulated device does in a training step, as tasks the controller submits to it:
 * {@link #backward} (its share of the batch forward and backward, gradients reduced over the data
 * axis bucket by bucket while backward goes on, then the global gradient norm) and
 * {@link #update} (clipping and the optimizer, on its ZeRO shard when the optimizer state is
 * sharded, then the parameters all-gathered). It owns its model shard and optimizer state.
 */
public final class DeviceWorker {

    /**
     * Builds a device's optimizer over its tensors (or ZeRO shard) and threads; {@code sum} sums
     * per-tensor statistics of split tensors over the devices sharing them (Adafactor's RMS).
     */
    public interface OptimizerFactory {
        Optimizer create(List<Tensor> tensors, Parallel par, Adafactor.AxisSum sum);
    }

    /**
     * One device's share of a step: loss and cross-entropy summed over its target tokens, the
     * global gradient norm (the same on every device), and where its time went: compute (forward
     * and backward), communication on its copy engine, and the part of that backward waited for.
     */
    public record Backward(double lossSum, double ceSum, long tokens, double gradNorm, double computeSeconds,
                           double commSeconds, double commWaitSeconds) {}

    public final SimulatedDevice device;
    private final DeviceMesh mesh;
    public final PalmModel model;
    private final ParamLayout layout;
    private final Optimizer optimizer;
    private final ZeroShard zero;          // null unless the optimizer state is sharded over data ranks > 1
    private final float[] zParams, zGrads; // the shard's parameters and reduced gradients
    private final BatchSource train;
    private final int B, T, accum, dataRanks;
    private final int[] rows, inputs, targets;
    private final boolean[] modelSplit;    // per optimizer tensor: split across the model axis
    private final double[] norms = new double[2];
    private final List<Future<?>> pending = new ArrayList<>();
    private volatile double commBusy;      // written by the comm thread, read after its futures complete

    /**
     * Builds the device's shard of the model (memory reserved on the device first) and its
     * optimizer; runs on the device's compute thread.
     */
    public DeviceWorker(DeviceMesh mesh, SimulatedDevice device, PalmConfig config, BatchSource train, int batchSize,
                        int seqLen, int gradAccum, boolean shardOptimizer, long seed, int optimizerStates,
                        OptimizerFactory optimizers) {
        this.mesh = mesh;
        this.device = device;
        this.train = train;
        this.B = batchSize;
        this.T = seqLen;
        this.accum = gradAccum;
        this.dataRanks = mesh.spec.data();
        int micro = batchSize / gradAccum / dataRanks;
        ParamLayout l = new ParamLayout(config, device.modelRank, mesh.spec.model());
        boolean sharded = shardOptimizer && dataRanks > 1;
        ZeroShard z = sharded ? new ZeroShard(l, device.dataRank, dataRanks) : null;
        int stateFloats = sharded ? z.size : l.size();
        device.reserve(SimulatedDevice.Memory.PARAMETERS, 4L * l.size());
        device.reserve(SimulatedDevice.Memory.GRADIENTS, 4L * (l.size() + (sharded ? z.size : 0)));
        device.reserve(SimulatedDevice.Memory.OPTIMIZER, 4L * stateFloats * (optimizerStates + (sharded ? 1 : 0)));
        device.reserve(SimulatedDevice.Memory.ACTIVATIONS, 4L * PalmModel.activationFloats(l, micro, seqLen));
        this.model = new PalmModel(config, device.parallel(), mesh.modelGroup(device));
        this.layout = model.layout;
        model.initialize(seed);
        this.zero = z;
        this.zParams = sharded ? new float[z.size] : null;
        this.zGrads = sharded ? new float[z.size] : null;
        List<Tensor> tensors = sharded ? z.tensors : layout.tensors();
        modelSplit = new boolean[tensors.size()];
        for (int i = 0; i < tensors.size(); i++) modelSplit[i] = layout.tensors().get(i).split() != Split.REPLICATED;
        this.optimizer = optimizers.create(tensors, device.parallel(), this::sumStatistics);
        rows = new int[micro * (seqLen + 1)];
        inputs = new int[micro * seqLen];
        targets = new int[micro * seqLen];
    }

    // Adafactor's per-tensor sums: over the data axis when the state is sharded, and over the
    // model axis for tensors split across it. buf holds pairs, one per tensor the optimizer calls split.
    private void sumStatistics(double[] buf, int off, int len) {
        if (zero != null) {
            mesh.dataAxis(device).allReduce(buf, off, len);
            if (mesh.spec.model() == 1) return;
            // entries come in pairs per tensor, every tensor present (all count as split in a shard)
            double[] split = new double[len];
            int n = 0;
            for (int i = 0; i < modelSplit.length; i++)
                if (modelSplit[i]) { split[n++] = buf[off + 2 * i]; split[n++] = buf[off + 2 * i + 1]; }
            mesh.modelAxis(device).allReduce(split, 0, n);
            n = 0;
            for (int i = 0; i < modelSplit.length; i++)
                if (modelSplit[i]) { buf[off + 2 * i] = split[n++]; buf[off + 2 * i + 1] = split[n++]; }
        } else {
            mesh.modelAxis(device).allReduce(buf, off, len);
        }
    }

    /**
     * Forward and backward over this device's rows of batch {@code position}; gradients reduced;
     * the global norm. {@code fault} (null for none) injects a fault: "crash" or "hang" make the
     * device fail after its backward, while the others reduce gradients (simulated hardware);
     * "nan" makes the gradients NaN; "spike" trains on random tokens instead of the batch.
     */
    public Backward backward(long position, String fault, long step) throws InterruptedException, ExecutionException {
        pending.clear(); // reductions of a step a failure cut short
        long t0 = System.nanoTime();
        model.zeroGrads();
        commBusy = 0;
        double loss = 0, ce = 0;
        long tokens = 0;
        float gradScale = "nan".equals(fault) ? Float.NaN : 1f / ((float) B * T);
        int micro = rows.length / (T + 1);
        for (int m = 0; m < accum; m++) {
            // micro-batch m of the step, this data rank's rows of it: the rows the 1x1 run uses, split
            train.fill(position, m * dataRanks + device.dataRank, accum * dataRanks, rows);
            if ("spike".equals(fault)) {
                java.util.SplittableRandom garbage = new java.util.SplittableRandom(position * 31 + m);
                for (int i = 0; i < rows.length; i++) rows[i] = garbage.nextInt(model.config.vocab());
            }
            BatchSource.split(rows, micro, T, inputs, targets);
            boolean last = m == accum - 1;
            PalmModel.Loss l = model.forwardBackward(inputs, targets, micro, T, gradScale,
                    last && dataRanks > 1 ? this::reduceBucket : null);
            loss += l.loss() * l.tokens();
            ce += l.ce() * l.tokens();
            tokens += l.tokens();
        }
        long t1 = System.nanoTime();
        if ("crash".equals(fault) || "hang".equals(fault)) device.fail(fault, step);
        for (Future<?> f : pending) f.get();
        pending.clear();
        long t2 = System.nanoTime();
        double norm = Math.sqrt(sumOfSquares());
        return new Backward(loss, ce, tokens, norm, (t1 - t0) / 1e9, commBusy, (t2 - t1) / 1e9);
    }

    // backward finished bucket b: reduce it over the data axis on the copy engine
    private void reduceBucket(int b) {
        int from = layout.bucketStart(b), len = layout.bucketEnd(b) - from;
        float[] g = model.grads();
        Communicator data = mesh.dataAxis(device);
        pending.add(device.submitComm(() -> {
            long t = System.nanoTime();
            if (zero == null) data.allReduce(g, from, len);
            else {
                data.reduceScatter(g, from, len);
                zero.gather(b, g, zGrads);
            }
            commBusy += (System.nanoTime() - t) / 1e9;
        }));
    }

    // Squared global gradient norm: every tensor once over the mesh. Split tensors are summed over
    // the model axis; with a sharded state each rank holds a piece, summed over the data axis.
    private double sumOfSquares() {
        Parallel par = device.parallel();
        float[] g = zero != null ? zGrads : model.grads();
        List<Tensor> tensors = zero != null ? zero.tensors : layout.tensors();
        double split = 0, replicated = 0;
        for (int i = 0; i < tensors.size(); i++) {
            Tensor t = tensors.get(i);
            double s = Elementwise.sumOfSquares(par, g, t.offset(), t.size());
            if (modelSplit[i]) split += s;
            else replicated += s;
        }
        norms[0] = split;
        norms[1] = replicated;
        if (zero != null) mesh.dataAxis(device).allReduce(norms, 0, 2);
        mesh.modelAxis(device).allReduce(norms, 0, 1);
        return norms[0] + norms[1];
    }

    /**
     * Clips to {@code maxNorm} (when positive) given the global {@code norm}, applies the
     * optimizer with {@code lr} as update {@code step}, unless {@code skip} (a non-finite loss or
     * norm: nothing changes), and, with a sharded state, all-gathers the parameters.
     */
    public Void update(long step, double lr, double norm, double maxNorm, boolean skip) {
        if (skip) return null;
        Parallel par = device.parallel();
        float[] g = zero != null ? zGrads : model.grads();
        if (maxNorm > 0 && Double.isFinite(norm) && norm > maxNorm)
            Elementwise.scale(par, g, 0, (float) (maxNorm / norm), g.length);
        if (zero == null) {
            optimizer.step(model.params(), g, step, lr);
            return null;
        }
        zero.gather(model.params(), zParams);
        optimizer.step(zParams, zGrads, step, lr);
        zero.scatter(zParams, model.params());
        Communicator data = mesh.dataAxis(device);
        for (int b = 0; b < zero.buckets(); b++) {
            int from = layout.bucketStart(b);
            data.allGather(model.params(), from, layout.bucketEnd(b) - from);
        }
        return null;
    }

    /** Loss and cross-entropy sums and token count over this data rank's share of {@code val}. */
    public double[] evaluate(dev.palm4j.train.data.ShardLoader val, long maxSequences) {
        return dev.palm4j.train.Evaluation.sumsOfShards(model, val, maxSequences, device.dataRank, dataRanks);
    }

    /**
     * Writes this device's parameters into {@code full} (single-device layout); the first data
     * rank of this process does it (the replicas agree).
     */
    public void saveParams(ParamLayout fullLayout, float[] full) {
        if (device.dataRank == mesh.firstDataRank()) Sharding.toFull(layout, model.params(), fullLayout, full, device.modelRank == 0);
    }

    /**
     * Writes this device's optimizer state (its shard, when sharded) into the full arrays by name.
     * When the shards live in other processes (ZeRO-1 over MPI) they are all-gathered over the
     * data axis first, a collective every data rank calls, so each process writes the whole state.
     */
    public void saveOptimizer(ParamLayout fullLayout, Map<String, float[]> full) {
        boolean replicated = device.modelRank == 0;
        for (Map.Entry<String, float[]> e : optimizer.state().entrySet()) {
            float[] dst = full.get(e.getKey());
            if (zero == null) {
                if (device.dataRank == mesh.firstDataRank()) Sharding.toFull(layout, e.getValue(), fullLayout, dst, replicated);
            } else if (!mesh.dataAxisInProcess()) {
                float[] local = new float[layout.size()];
                zero.scatter(e.getValue(), local);
                Communicator data = mesh.dataAxis(device);
                for (int b = 0; b < zero.buckets(); b++) {
                    int from = layout.bucketStart(b);
                    data.allGather(local, from, layout.bucketEnd(b) - from);
                }
                Sharding.toFull(layout, local, fullLayout, dst, replicated);
            } else {
                for (int b = 0; b < zero.buckets(); b++)
                    Sharding.toFull(layout, zero.pieceFrom(b), zero.pieceFrom(b) + zero.pieceLen(b), e.getValue(),
                            zero.shardOff(b), fullLayout, dst, replicated);
            }
        }
    }

    /** Loads this device's slice of full parameters and (when not null) optimizer state. */
    public void load(ParamLayout fullLayout, float[] params, Map<String, float[]> optimizerState) {
        Sharding.fromFull(fullLayout, params, layout, model.params());
        if (optimizerState == null) return;
        Map<String, float[]> mine = new HashMap<>();
        for (Map.Entry<String, float[]> e : optimizerState.entrySet()) {
            float[] local = new float[layout.size()];
            Sharding.fromFull(fullLayout, e.getValue(), layout, local);
            if (zero != null) {
                float[] shard = new float[zero.size];
                zero.gather(local, shard);
                local = shard;
            }
            mine.put(e.getKey(), local);
        }
        optimizer.load(mine);
    }

    /** Names of the optimizer's state arrays. */
    public Iterable<String> optimizerStateNames() {
        return optimizer.state().keySet();
    }

    /** Floats of optimizer state this device holds. */
    public long optimizerFloats() {
        long n = 0;
        for (float[] s : optimizer.state().values()) n += s.length;
        return n;
    }
}
