package dev.palm4j.train.config;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;

/**
 * The {@code parallel:} section: the mesh of simulated devices, {@code data x model}. Any mesh
 * trains to the same losses as 1x1 (within float tolerance); it divides the run's threads.
 *
 * @param data           data-parallel ranks: each takes batch_size / (grad_accum · data) sequences
 *                       of a micro-batch and gradients are all-reduced over them
 * @param model          tensor-parallel ranks (Megatron): must divide model.n_heads, the FFN
 *                       hidden size and model.n_kv_heads (unless it is 1, replicated)
 * @param shardOptimizer shard the optimizer state over the data ranks (ZeRO-1)
 */
public record ParallelConfig(int data, int model, boolean shardOptimizer) {

    static final List<String> KEYS = List.of("data", "model", "shard_optimizer");

    public ParallelConfig {
        Check.atLeast("parallel.data", data, 1);
        Check.atLeast("parallel.model", model, 1);
    }

    /** One device. */
    public static final ParallelConfig SINGLE = new ParallelConfig(1, 1, false);

    /** Simulated devices in the mesh. */
    public int devices() {
        return data * model;
    }

    static ParallelConfig read(Keys in) {
        return new ParallelConfig(in.integer("data", 1), in.integer("model", 1), in.bool("shard_optimizer", false));
    }

    void write(ObjectNode out) {
        out.put("data", data).put("model", model).put("shard_optimizer", shardOptimizer);
    }
}
