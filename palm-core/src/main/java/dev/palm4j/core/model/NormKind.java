package dev.palm4j.core.model;

import dev.palm4j.core.InputException;
import java.util.Locale;

/** The block and final norm: PaLM's LayerNorm without bias, or RMSNorm. */
public enum NormKind {
    LAYERNORM, RMSNORM;

    /** The name used in configs and in the weights' metadata. */
    public String configName() {
        return name().toLowerCase(Locale.ROOT);
    }

    public static NormKind parse(String s) {
        for (NormKind k : values()) if (k.configName().equals(s)) return k;
        throw new InputException("model.norm = '" + s + "' is not a norm", "use layernorm or rmsnorm");
    }
}
