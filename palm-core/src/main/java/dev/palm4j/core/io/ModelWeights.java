package dev.palm4j.core.io;

import dev.palm4j.core.InputException;
import dev.palm4j.core.model.NormKind;
import dev.palm4j.core.model.PalmConfig;
import dev.palm4j.core.model.ParamLayout;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A model's weights as one safetensors file (DESIGN.md, "Weights on disk"): every tensor under
 * its DESIGN name and full shape, float32, and {@code __metadata__} = {@code {"format": "palm4j",
 * "config": <model config JSON>}} so the file alone rebuilds the model.
 *
 * <p>Weights are written from a single-device {@link ParamLayout} (the full tensors) in layout
 * order; any layout, sharded ones included, can be loaded with {@link #readInto}.
 */
public final class ModelWeights {
    private ModelWeights() {}

    /** The {@code format} metadata value of every palm4j file. */
    public static final String FORMAT = "palm4j";

    /** A loaded model: its config and the parameters in the single-device {@link ParamLayout} order. */
    public record Loaded(PalmConfig config, float[] params) {}

    /** Saves {@code params} (single-device layout of {@code config}) to {@code file}, forced to disk. */
    public static void save(Path file, PalmConfig config, float[] params) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            write(ch, config, params);
            ch.force(true);
        }
    }

    /** Writes the weights file to {@code out}. */
    public static void write(WritableByteChannel out, PalmConfig config, float[] params) throws IOException {
        ParamLayout layout = new ParamLayout(config);
        Safetensors.write(out, metadata(config), tensors(layout, params, ""));
    }

    /** {@code format} and {@code config}, as every palm4j safetensors file carries them. */
    public static Map<String, String> metadata(PalmConfig config) {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("format", FORMAT);
        m.put("config", Json.write(configToJson(config)));
        return m;
    }

    /**
     * The tensors of a flat array laid out by a full (single-device) {@code layout}, named
     * {@code weight name + suffix} ({@code ""} for weights, {@code ".exp_avg"} for an optimizer
     * state), in layout order.
     */
    public static List<Safetensors.Tensor> tensors(ParamLayout layout, float[] flat, String suffix) {
        if (layout.groupSize != 1)
            throw new IllegalArgumentException("files hold full tensors: gather the " + layout.groupSize + " shards first");
        if (flat.length != layout.size())
            throw new IllegalArgumentException("array of " + flat.length + " floats for a layout of " + layout.size());
        List<Safetensors.Tensor> out = new ArrayList<>();
        for (ParamLayout.Tensor t : layout.tensors())
            out.add(new Safetensors.Tensor(t.name() + suffix, t.fullShape(), flat, t.offset()));
        return out;
    }

    /** Loads a palm4j weights file: the config from its metadata, then every tensor, checked. */
    public static Loaded load(Path file) throws IOException {
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            PalmConfig config = config(f);
            ParamLayout layout = new ParamLayout(config);
            float[] params = new float[layout.size()];
            readInto(f, layout, params, "");
            requireNoOthers(f, layout, Set.of(""));
            return new Loaded(config, params);
        }
    }

    /** The model config of a palm4j safetensors file, or an error saying why it is not one. */
    public static PalmConfig config(SafetensorsFile f) {
        String format = f.metadata().get("format");
        if (!FORMAT.equals(format))
            throw new InputException(f.path() + " is not a palm4j weights file (its __metadata__ format is "
                    + (format == null ? "missing" : "\"" + format + "\"") + ", not \"palm4j\")",
                    "palm4j needs the model config in the file's metadata; save the weights with palm4j");
        String config = f.metadata().get("config");
        if (config == null)
            throw new InputException(f.path() + " has no model config in its __metadata__", "save the weights with palm4j");
        String where = f.path() + " __metadata__ config";
        return configFromJson(Json.parse(config.getBytes(java.nio.charset.StandardCharsets.UTF_8), where), where);
    }

    /**
     * Reads tensors {@code weight name + suffix} into {@code dst} laid out by {@code layout}: each
     * device takes its slice of the full tensor, so a file written on any mesh loads on any
     * other. Missing tensors and wrong shapes are errors naming them.
     */
    public static void readInto(SafetensorsFile f, ParamLayout layout, float[] dst, String suffix) throws IOException {
        List<String> missing = new ArrayList<>();
        for (ParamLayout.Tensor t : layout.tensors()) if (!f.has(t.name() + suffix)) missing.add(t.name() + suffix);
        if (!missing.isEmpty())
            throw new InputException(f.path() + " lacks " + missing.size() + " tensor(s) the model needs: "
                    + String.join(", ", missing.subList(0, Math.min(5, missing.size()))) + (missing.size() > 5 ? ", ..." : ""),
                    "the file does not match its config; was it written by another program or another palm4j version?");
        for (ParamLayout.Tensor t : layout.tensors()) {
            String name = t.name() + suffix;
            long[] found = f.info(name).shape(), want = t.fullShape();
            if (!Arrays.equals(found, want))
                throw new InputException(f.path() + " tensor '" + name + "' has shape " + Arrays.toString(found)
                        + " but the config needs " + Arrays.toString(want), "the file does not match its config");
            f.readSlice(name, t.rowStart(), t.rows(), t.colStart(), t.cols(), dst, t.offset());
        }
    }

    /** Rejects tensors other than {@code weight name + suffix} for the given suffixes. */
    public static void requireNoOthers(SafetensorsFile f, ParamLayout layout, Set<String> suffixes) {
        Set<String> expected = new LinkedHashSet<>();
        for (String s : suffixes) for (ParamLayout.Tensor t : layout.tensors()) expected.add(t.name() + s);
        for (String name : f.names())
            if (!expected.contains(name))
                throw new InputException(f.path() + " has tensor '" + name + "', which this model does not have",
                        "the file does not match its config");
    }

    // ------------------------------------------------------------------------------ config JSON

    /** The model config as DESIGN.md names its keys (also the {@code model} section of a run config). */
    public static Map<String, Object> configToJson(PalmConfig c) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("vocab", c.vocab());
        m.put("d_model", c.dModel());
        m.put("n_layers", c.nLayers());
        m.put("n_heads", c.nHeads());
        m.put("head_dim", c.headDim());
        m.put("n_kv_heads", c.nKvHeads());
        m.put("ffn_mult", c.ffnMult());
        m.put("norm", c.norm().configName());
        m.put("norm_eps", c.normEps()); // a Float: written as its shortest text, read back to the same float
        m.put("rope_base", c.ropeBase());
        m.put("max_seq_len", c.maxSeqLen());
        m.put("z_loss", c.zLoss());
        return m;
    }

    private static final String[] CONFIG_KEYS = {"vocab", "d_model", "n_layers", "n_heads", "head_dim", "n_kv_heads",
            "ffn_mult", "norm", "norm_eps", "rope_base", "max_seq_len", "z_loss"};

    /** Inverse of {@link #configToJson}; every key required, unknown keys rejected, values validated. */
    public static PalmConfig configFromJson(Object json, String where) {
        JsonObject o = JsonObject.of(json, where);
        o.allowOnly(CONFIG_KEYS);
        int vocab = o.intValue("vocab"), d = o.intValue("d_model"), layers = o.intValue("n_layers"),
                heads = o.intValue("n_heads"), headDim = o.intValue("head_dim"), kv = o.intValue("n_kv_heads"),
                mult = o.intValue("ffn_mult"), maxSeq = o.intValue("max_seq_len");
        String norm = o.string("norm");
        double eps = o.doubleValue("norm_eps"), ropeBase = o.doubleValue("rope_base"), zLoss = o.doubleValue("z_loss");
        try {
            return new PalmConfig(vocab, d, layers, heads, headDim, kv, mult, NormKind.parse(norm), (float) eps, ropeBase,
                    maxSeq, (float) zLoss);
        } catch (InputException e) { // the config's message names the field; add where it came from
            throw new InputException(where + ": " + e.problem(), e.hint(), e);
        }
    }
}
