package dev.palm4j.train.checkpoint;

import dev.palm4j.core.InputException;
import dev.palm4j.core.io.Json;
import dev.palm4j.core.io.JsonObject;
import dev.palm4j.core.io.ModelWeights;
import dev.palm4j.core.model.PalmConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A checkpoint's {@code state.json}: where training stands and a checksum for every other file
 * (docs/checkpoints.md lists the fields). It is written last, so its checksums cover the rest.
 */
public record CheckpointState(long step, long dataPosition, long[] rng, int vectorBits, String jdk, String created,
                              PalmConfig config, Map<String, Double> metrics, Map<String, Object> train,
                              Map<String, FileSum> files) {

    /** Value of the {@code format} field. */
    public static final String FORMAT = "palm4j-checkpoint";
    /** Bumped when a field changes meaning; a newer version is refused rather than misread. */
    public static final int VERSION = 1;

    /** Length and CRC32C (Castagnoli) of one file. */
    public record FileSum(long bytes, int crc32c) {
        @Override public String toString() {
            return String.format("crc32c %08x, %d bytes", crc32c, bytes);
        }
    }

    public CheckpointState {
        rng = rng.clone();
        metrics = Collections.unmodifiableMap(new LinkedHashMap<>(metrics));
        train = Collections.unmodifiableMap(new LinkedHashMap<>(train));
        files = Collections.unmodifiableMap(new LinkedHashMap<>(files));
    }

    @Override public long[] rng() {
        return rng.clone();
    }

    public Map<String, Object> toJson() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("format", FORMAT);
        m.put("version", VERSION);
        m.put("step", step);
        m.put("data_position", dataPosition);
        m.put("rng", rng);
        m.put("vector_bits", vectorBits);
        m.put("jdk", jdk);
        m.put("created", created);
        m.put("config", ModelWeights.configToJson(config));
        Map<String, Object> met = new LinkedHashMap<>();
        metrics.forEach((k, v) -> met.put(k, v != null && Double.isFinite(v) ? v : null)); // JSON has no NaN
        m.put("metrics", met);
        m.put("train", train);
        Map<String, Object> f = new LinkedHashMap<>();
        files.forEach((k, v) -> {
            Map<String, Object> e = new LinkedHashMap<>(); // not Map.of: its order changes from JVM to JVM
            e.put("bytes", v.bytes());
            e.put("crc32c", String.format("%08x", v.crc32c()));
            f.put(k, e);
        });
        m.put("files", f);
        return m;
    }

    public byte[] toBytes() {
        return Json.writePretty(toJson()).getBytes(java.nio.charset.StandardCharsets.UTF_8);
    }

    /** Reads and checks {@code file}; anything wrong is an InputException naming it and the field. */
    public static CheckpointState read(Path file) throws IOException {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            throw new InputException(file + " is missing", "not a complete palm4j checkpoint directory", e);
        }
        return fromJson(Json.parse(bytes, file.toString()), file.toString());
    }

    public static CheckpointState fromJson(Object json, String where) {
        JsonObject o = JsonObject.of(json, where);
        if (!FORMAT.equals(o.has("format") ? o.get("format") : null))
            throw new InputException(where + " is not a palm4j checkpoint state (format is not \"" + FORMAT + "\")", null);
        long version = o.longValue("version");
        if (version != VERSION)
            throw new InputException(where + " has version " + version + "; this palm4j reads version " + VERSION,
                    "use the palm4j version that wrote the checkpoint");
        o.allowOnly("format", "version", "step", "data_position", "rng", "vector_bits", "jdk", "created", "config",
                "metrics", "train", "files");
        long step = o.longValue("step"), pos = o.longValue("data_position");
        if (step < 0 || pos < 0) throw new InputException(where + ": step and data_position must be >= 0", null);
        Map<String, Double> metrics = new LinkedHashMap<>();
        JsonObject met = o.object("metrics");
        for (String k : met.keys()) metrics.put(k, met.get(k) == null ? Double.NaN : met.doubleValue(k));
        Map<String, FileSum> files = new LinkedHashMap<>();
        JsonObject fo = o.object("files");
        for (String name : fo.keys()) {
            JsonObject e = fo.object(name);
            String hex = e.string("crc32c");
            if (!hex.matches("[0-9a-f]{8}"))
                throw new InputException(where + ": files \"" + name + "\" crc32c \"" + hex + "\" is not 8 hex digits", null);
            files.put(name, new FileSum(e.longValue("bytes"), Integer.parseUnsignedInt(hex, 16)));
        }
        return new CheckpointState(step, pos, o.longs("rng"), o.intValue("vector_bits"), o.string("jdk"), o.string("created"),
                ModelWeights.configFromJson(o.get("config"), where + " config"), metrics, o.object("train").map(), files);
    }

    /** The checksummed file names, in the order written. */
    public List<String> fileNames() {
        return List.copyOf(files.keySet());
    }
}
