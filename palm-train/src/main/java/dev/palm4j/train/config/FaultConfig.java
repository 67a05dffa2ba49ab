package dev.palm4j.train.config;

import com.fasterxml.jackson.databind.node.ArrayNode;
import dev.palm4j.core.InputException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * One entry of the {@code faults:} list, a fault injected at step {@code step} to test recovery.
 * Device faults: simulated device {@code device} fails after its forward and backward, while the
 * mesh is reducing gradients; a {@code crash} ends the device's work with an error, a
 * {@code hang} stops it until the mesh gives up on it (the other devices' collectives time out
 * after {@code parallel.timeout_s}). Either way the trainer replaces the device, restores every
 * device from the last valid checkpoint and goes on. Numerical faults (every device; the
 * {@code device} key does not apply): {@code nan} makes the step's gradients NaN (the step is
 * skipped), {@code spike} replaces the step's batch by random tokens, so the loss jumps (the
 * {@code spikes:} rule rolls back). Each entry fires once per process, so a replayed step does
 * not fail again; a second entry makes it fail again.
 */
public record FaultConfig(int device, long step, Kind kind) {

    public enum Kind {
        CRASH, HANG, NAN, SPIKE;

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
        for (Keys k : entries) {
            Kind kind = k.choice("kind", Kind.CRASH, Kind.values(), Kind::key);
            if ((kind == Kind.NAN || kind == Kind.SPIKE) && k.has("device"))
                throw new InputException(k.dotted("device") + " does not apply to kind " + kind.key(),
                        "a " + kind.key() + " fault hits the whole step: remove device");
            if (!k.has("step")) throw new InputException(k.dotted("step") + " is missing", "the step the fault happens at");
            out.add(new FaultConfig(kind == Kind.CRASH || kind == Kind.HANG ? k.integer("device") : 0, k.int64("step", 0), kind));
        }
        return List.copyOf(out);
    }

    /** Cross-section rules: the device exists, a hang has others to notice it. */
    static void check(List<FaultConfig> faults, ParallelConfig parallel) {
        for (FaultConfig f : faults) {
            if (f.onDevice() && f.device >= parallel.devices())
                throw new InputException("faults: device " + f.device + " does not exist in a mesh of " + parallel.devices()
                        + " device(s)", "devices are numbered 0 .. parallel.data x parallel.model - 1");
            if (f.onDevice() && parallel.backend() == ParallelConfig.Backend.MPI)
                throw new InputException("faults: a device " + f.kind.key() + " is simulated in one process; with parallel.backend = mpi"
                        + " a failed process stops the whole job", "run fault tests with parallel.backend = local; over MPI,"
                        + " --resume continues a stopped job from its last checkpoint (docs/distributed.md)");
            if (f.kind == Kind.HANG && parallel.devices() == 1)
                throw new InputException("faults: a hang on a single device cannot be detected",
                        "a hang is noticed through the other devices' collectives: use a mesh of at least 2 devices");
        }
    }

    static void write(List<FaultConfig> faults, ArrayNode out) {
        for (FaultConfig f : faults) {
            var o = out.addObject();
            if (f.onDevice()) o.put("device", f.device);
            o.put("step", f.step).put("kind", f.kind.key());
        }
    }

    /** Whether it hits one device (crash, hang) rather than the whole step (nan, spike). */
    public boolean onDevice() {
        return kind == Kind.CRASH || kind == Kind.HANG;
    }
}
