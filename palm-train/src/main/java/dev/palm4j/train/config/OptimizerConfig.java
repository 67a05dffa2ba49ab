package dev.palm4j.train.config;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;
import java.util.Locale;

/**
 * The {@code optimizer:} section. A setting the chosen kind does not have is NaN here, absent
 * from the YAML, and an error when a config sets it (it would otherwise be silently ignored).
 *
 * @param kind        {@code adamw} or {@code adafactor} (PaLM's variant: no factorisation,
 *                    updates scaled by the parameter's RMS, second-moment decay 1 - k^-0.8,
 *                    update clipping, weight decay lr²)
 * @param beta1       first-moment decay (both kinds; 0 turns momentum off)
 * @param beta2       AdamW's second-moment decay; NaN for Adafactor, whose decay follows the step
 * @param eps         AdamW: added to the root of the second moment; Adafactor: added to the
 *                    squared gradient (its ε1)
 * @param weightDecay AdamW's decoupled weight decay (multiplied by the learning rate, on
 *                    matrices only); NaN for Adafactor, whose decay is lr² as in PaLM
 * @param gradClip    global gradient-norm clipping threshold; 0 = no clipping
 */
public record OptimizerConfig(Kind kind, double beta1, double beta2, double eps, double weightDecay, double gradClip) {

    public enum Kind {
        ADAMW, ADAFACTOR;

        public String configName() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    static final List<String> KEYS = List.of("kind", "beta1", "beta2", "eps", "weight_decay", "grad_clip");
    private static final List<String> ADAFACTOR_KEYS = List.of("kind", "beta1", "eps", "grad_clip");

    public OptimizerConfig {
        Check.notNull("optimizer.kind", kind);
        Check.range("optimizer.beta1", beta1, 0, 1, true);
        Check.positive("optimizer.eps", eps);
        Check.nonNegative("optimizer.grad_clip", gradClip);
        String why = "optimizer.kind = " + kind.configName();
        if (kind == Kind.ADAMW) {
            Check.range("optimizer.beta2", beta2, 0, 1, true);
            Check.nonNegative("optimizer.weight_decay", weightDecay);
        } else {
            Check.unset("optimizer.beta2", beta2, why);
            Check.unset("optimizer.weight_decay", weightDecay, why);
        }
    }

    /** The defaults of a kind: AdamW β 0.9/0.95, eps 1e-8, weight decay 0.1; Adafactor β1 0.9, ε1 1e-30; clip 1.0. */
    public static OptimizerConfig defaults(Kind kind) {
        return kind == Kind.ADAMW ? new OptimizerConfig(kind, 0.9, 0.95, 1e-8, 0.1, 1.0)
                : new OptimizerConfig(kind, 0.9, Double.NaN, 1e-30, Double.NaN, 1.0);
    }

    static OptimizerConfig read(Keys in) {
        Kind kind = in.choice("kind", Kind.ADAMW, Kind.values(), Kind::configName);
        in.onlyFor("optimizer.kind = " + kind.configName(), kind == Kind.ADAMW ? KEYS : ADAFACTOR_KEYS, KEYS);
        OptimizerConfig d = defaults(kind);
        return new OptimizerConfig(kind, in.number("beta1", d.beta1), kind == Kind.ADAMW ? in.number("beta2", d.beta2) : d.beta2,
                in.number("eps", d.eps), kind == Kind.ADAMW ? in.number("weight_decay", d.weightDecay) : d.weightDecay,
                in.number("grad_clip", d.gradClip));
    }

    void write(ObjectNode out) {
        out.put("kind", kind.configName()).put("beta1", beta1);
        if (kind == Kind.ADAMW) out.put("beta2", beta2);
        out.put("eps", eps);
        if (kind == Kind.ADAMW) out.put("weight_decay", weightDecay);
        out.put("grad_clip", gradClip);
    }
}
