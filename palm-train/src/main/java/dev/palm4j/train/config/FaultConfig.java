package dev.palm4j.train.config;

import com.fasterxml.jackson.databind.node.ArrayNode;
import dev.palm4j.core.InputException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * One entry of the {@code faults:} list: simulated device {@code device} fails at step
 * {@code step}, after its forward and backward, while the mesh is reducing gradients. A
 * {@code crash} ends the device's work with an error; a {@code hang} stops it until the mesh
 * gives up on it (the other devices' collectives time out after {@code parallel.timeout_s}).
 * Either way the trainer replaces the device, restores every device from the last valid
 * checkpoint and goes on. Each entry fires once per process, so a replayed step does not fail
 * again; a second entry for the same device makes it fail again after recovery.
 */
public record FaultConfig(int device, long step, Kind kind) {

    public enum Kind {
        CRASH, HANG;

        String key() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    static final List<String> KEYS = List.of("device", "step", "kind");

    public FaultConfig {
        Check.atLeast("faults.device", device, 0);
        Check.atLeast("faults.step", step, 1);
        Check.notNull("faults.kind", kind);
    }

    static List<FaultConfig> read(List<Keys> entries) {
        List<FaultConfig> out = new ArrayList<>();
        for (Keys k : entries)
            out.add(new FaultConfig(k.integer("device"), k.int64("step", 0), k.choice("kind", Kind.CRASH, Kind.values(), Kind::key)));
        return List.copyOf(out);
    }

    /** Cross-section rules: the device exists, a hang has others to notice it. */
    static void check(List<FaultConfig> faults, ParallelConfig parallel) {
        for (FaultConfig f : faults) {
            if (f.device >= parallel.devices())
                throw new InputException("faults: device " + f.device + " does not exist in a mesh of " + parallel.devices()
                        + " device(s)", "devices are numbered 0 .. parallel.data x parallel.model - 1");
            if (f.kind == Kind.HANG && parallel.devices() == 1)
                throw new InputException("faults: a hang on a single device cannot be detected",
                        "a hang is noticed through the other devices' collectives: use a mesh of at least 2 devices");
        }
    }

    static void write(List<FaultConfig> faults, ArrayNode out) {
        for (FaultConfig f : faults) out.addObject().put("device", f.device).put("step", f.step).put("kind", f.kind.key());
    }
}
