package dev.palm4j.train.config;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;
import java.util.Locale;

/**
 * The {@code parallel:} section: the mesh of simulated devices, {@code data x model}. Any mesh
 * trains to the same losses as 1x1 (within float tolerance); it divides the run's threads.
 *
 * @param data           data-parallel ranks: each takes batch_size / (grad_accum · data) sequences
 *                       of a micro-batch and gradients are all-reduced over them
 * @param model          tensor-parallel ranks (Megatron): must divide model.n_heads, the FFN
 *                       hidden size and model.n_kv_heads (unless it is 1, replicated)
 * @param shardOptimizer shard the optimizer state over the data ranks (ZeRO-1)
 * @param timeoutSeconds how long a device waits in a collective before the mesh declares a failure
 * @param deviceMemoryMb memory budget per device in MB (10^6 bytes); 0 = none
 * @param modelLink      link model of the model axis (fast, inside a pod)
 * @param dataLink       link model of the data axis (slower, across pods)
 * @param backend        where the data axis runs: {@code local} (every data rank a simulated device
 *                       in this process) or {@code mpi} (one process per data rank, under mpirun,
 *                       each holding its own in-process model axis; docs/distributed.md)
 */
public record ParallelConfig(int data, int model, boolean shardOptimizer, double timeoutSeconds, double deviceMemoryMb,
                             LinkConfig modelLink, LinkConfig dataLink, Backend backend) {

    static final List<String> KEYS = List.of("data", "model", "shard_optimizer", "timeout_s", "device_memory_mb",
            "model_link", "data_link", "backend");

    /** Where the data axis runs. */
    public enum Backend {
        /** Every device in this process; collectives are in-process copies. */
        LOCAL,
        /** One process per data rank, started by mpirun; the data axis goes through Open MPI. */
        MPI;

        public String configName() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /**
     * A link model: each message takes {@code latency_us + bytes / (gb_per_s · 10^9)}.
     * Defaults: model axis 2 µs and 100 GB/s (an accelerator interconnect inside a pod), data
     * axis 20 µs and 12.5 GB/s (100 Gb/s between pods).
     */
    public record LinkConfig(double latencyMicros, double gigabytesPerSecond) {
        static final List<String> KEYS = List.of("latency_us", "gb_per_s");
        public static final LinkConfig MODEL = new LinkConfig(2, 100), DATA = new LinkConfig(20, 12.5);

        static LinkConfig read(Keys in, LinkConfig def) {
            LinkConfig l = new LinkConfig(in.number("latency_us", def.latencyMicros), in.number("gb_per_s", def.gigabytesPerSecond));
            Check.nonNegative(in.dotted("latency_us"), l.latencyMicros);
            Check.positive(in.dotted("gb_per_s"), l.gigabytesPerSecond);
            return l;
        }

        void write(ObjectNode out) {
            out.put("latency_us", latencyMicros).put("gb_per_s", gigabytesPerSecond);
        }
    }

    public ParallelConfig {
        Check.atLeast("parallel.data", data, 1);
        Check.atLeast("parallel.model", model, 1);
        Check.positive("parallel.timeout_s", timeoutSeconds);
        Check.nonNegative("parallel.device_memory_mb", deviceMemoryMb);
        Check.notNull("parallel.backend", backend);
    }

    public ParallelConfig(int data, int model, boolean shardOptimizer) {
        this(data, model, shardOptimizer, 60, 0, LinkConfig.MODEL, LinkConfig.DATA, Backend.LOCAL);
    }

    /** One device. */
    public static final ParallelConfig SINGLE = new ParallelConfig(1, 1, false);

    /** Simulated devices in the mesh (over all processes). */
    public int devices() {
        return data * model;
    }

    /** Devices one process holds: the whole mesh, or with the MPI backend one data rank's model ranks. */
    public int devicesPerProcess() {
        return backend == Backend.MPI ? model : devices();
    }

    static ParallelConfig read(Keys in) {
        return new ParallelConfig(in.integer("data", 1), in.integer("model", 1), in.bool("shard_optimizer", false),
                in.number("timeout_s", 60), in.number("device_memory_mb", 0),
                LinkConfig.read(in.section("model_link", LinkConfig.KEYS), LinkConfig.MODEL),
                LinkConfig.read(in.section("data_link", LinkConfig.KEYS), LinkConfig.DATA),
                in.choice("backend", Backend.LOCAL, Backend.values(), Backend::configName));
    }

    void write(ObjectNode out) {
        out.put("data", data).put("model", model).put("shard_optimizer", shardOptimizer).put("timeout_s", timeoutSeconds)
                .put("device_memory_mb", deviceMemoryMb);
        modelLink.write(out.putObject("model_link"));
        dataLink.write(out.putObject("data_link"));
        out.put("backend", backend.configName());
    }
}
