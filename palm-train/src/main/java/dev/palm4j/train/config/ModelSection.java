package dev.palm4j.train.config;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.palm4j.core.InputException;
import dev.palm4j.core.model.NormKind;
import dev.palm4j.core.model.PalmConfig;
import java.util.List;

/**
 * The {@code model:} section, read straight into the core's {@link PalmConfig} (which checks
 * its own rules and names the {@code model.*} key in each message). Keys are PalmConfig's
 * fields in snake case.
 */
final class ModelSection {
    private ModelSection() {}

    static final List<String> KEYS = List.of("vocab", "d_model", "n_layers", "n_heads", "head_dim", "n_kv_heads",
            "ffn_mult", "norm", "norm_eps", "rope_base", "max_seq_len", "z_loss");

    /**
     * @param vocab  model.vocab, already resolved against data.vocab_size
     * @param seqLen train.seq_len, the default of max_seq_len
     */
    static PalmConfig read(Keys in, int vocab, int seqLen) {
        int d = in.integer("d_model"), layers = in.integer("n_layers"), heads = in.integer("n_heads");
        Integer headDim = in.optInteger("head_dim");
        if (headDim == null) {
            if (heads > 0 && d % heads != 0)
                throw new InputException("model.d_model = " + d + " is not divisible by model.n_heads = " + heads,
                        "head_dim defaults to d_model / n_heads: set model.head_dim, or pick n_heads dividing d_model");
            headDim = heads > 0 ? d / heads : 0; // n_heads < 1 is reported by PalmConfig
        }
        return new PalmConfig(vocab, d, layers, heads, headDim, in.integer("n_kv_heads", 1), in.integer("ffn_mult", 4),
                in.choice("norm", NormKind.LAYERNORM, NormKind.values(), NormKind::configName),
                (float) in.number("norm_eps", 1e-5), in.number("rope_base", 10000), in.integer("max_seq_len", seqLen),
                (float) in.number("z_loss", 1e-4));
    }

    static void write(PalmConfig m, ObjectNode out) {
        out.put("vocab", m.vocab()).put("d_model", m.dModel()).put("n_layers", m.nLayers()).put("n_heads", m.nHeads())
                .put("head_dim", m.headDim()).put("n_kv_heads", m.nKvHeads()).put("ffn_mult", m.ffnMult())
                .put("norm", m.norm().configName()).put("norm_eps", m.normEps()).put("rope_base", m.ropeBase())
                .put("max_seq_len", m.maxSeqLen()).put("z_loss", m.zLoss());
    }
}
