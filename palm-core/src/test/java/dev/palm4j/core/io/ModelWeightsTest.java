package dev.palm4j.core.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.palm4j.core.InputException;
import dev.palm4j.core.model.NormKind;
import dev.palm4j.core.model.PalmConfig;
import dev.palm4j.core.model.ParamLayout;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ModelWeightsTest {
    @TempDir Path dir;

    static final PalmConfig C = new PalmConfig(11, 8, 2, 4, 4, 2, 2, NormKind.RMSNORM, 1e-6f, 500000.0, 32, 3e-4f);

    static float[] random(int n, long seed) {
        Random r = new Random(seed);
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = Float.intBitsToFloat(r.nextInt());
        return a;
    }

    @Test
    void roundTripIsBitwiseAndKeepsTheConfig() throws IOException {
        float[] p = random(new ParamLayout(C).size(), 1);
        Path f = dir.resolve("model.safetensors");
        ModelWeights.save(f, C, p);
        ModelWeights.Loaded l = ModelWeights.load(f);
        assertEquals(C, l.config());
        SafetensorsTest.assertBitwise(p, l.params());
    }

    @Test
    void fileUsesTheDesignNamesShapesAndMetadata() throws IOException {
        Path f = dir.resolve("model.safetensors");
        ModelWeights.save(f, C, new float[new ParamLayout(C).size()]);
        try (SafetensorsFile s = SafetensorsFile.open(f)) {
            assertEquals("palm4j", s.metadata().get("format"));
            assertEquals("{\"vocab\":11,\"d_model\":8,\"n_layers\":2,\"n_heads\":4,\"head_dim\":4,\"n_kv_heads\":2,\"ffn_mult\":2,"
                    + "\"norm\":\"rmsnorm\",\"norm_eps\":1.0E-6,\"rope_base\":500000.0,\"max_seq_len\":32,\"z_loss\":3.0E-4}",
                    s.metadata().get("config"));
            Map<String, List<Long>> shapes = new LinkedHashMap<>();
            for (SafetensorsFile.Info t : s.tensors()) {
                assertEquals("F32", t.dtype());
                List<Long> dims = new ArrayList<>();
                for (long d : t.shape()) dims.add(d);
                shapes.put(t.name(), dims);
            }
            Map<String, List<Long>> want = new LinkedHashMap<>();
            want.put("embed.weight", List.of(11L, 8L));
            for (int i = 0; i < 2; i++) {
                String l = "layers." + i + ".";
                want.put(l + "norm.weight", List.of(8L));
                want.put(l + "attn.wq", List.of(16L, 8L));
                want.put(l + "attn.wk", List.of(8L, 8L));
                want.put(l + "attn.wv", List.of(8L, 8L));
                want.put(l + "ffn.w_gate", List.of(16L, 8L));
                want.put(l + "ffn.w_up", List.of(16L, 8L));
                want.put(l + "attn.wo", List.of(8L, 16L));
                want.put(l + "ffn.w_down", List.of(8L, 16L));
            }
            want.put("final_norm.weight", List.of(8L));
            assertEquals(want, shapes);
        }
    }

    @Test
    void configJsonRoundTripsAndIsStrict() {
        PalmConfig d = PalmConfig.of(256, 64, 2, 4, 128);
        assertEquals(d, ModelWeights.configFromJson(Json.parse(Json.write(ModelWeights.configToJson(d))), "c"));
        assertEquals(List.of("vocab", "d_model", "n_layers", "n_heads", "head_dim", "n_kv_heads", "ffn_mult", "norm",
                "norm_eps", "rope_base", "max_seq_len", "z_loss"), List.copyOf(ModelWeights.configToJson(d).keySet()));
        Map<String, Object> m = ModelWeights.configToJson(d);
        m.put("dropout", 0.1);
        assertTrue(assertThrows(InputException.class, () -> ModelWeights.configFromJson(m, "c")).problem().contains("\"dropout\""));
        m.remove("dropout");
        m.remove("n_layers");
        assertTrue(assertThrows(InputException.class, () -> ModelWeights.configFromJson(m, "c")).problem().equals("c: \"n_layers\" is missing"));
        m.put("n_layers", 2);
        m.put("n_kv_heads", 3L);
        assertTrue(assertThrows(InputException.class, () -> ModelWeights.configFromJson(Json.parse(Json.write(m)), "c"))
                .problem().startsWith("c: model.n_kv_heads = 3"));
        m.put("n_kv_heads", 1.5);
        assertTrue(assertThrows(InputException.class, () -> ModelWeights.configFromJson(m, "c")).problem().contains("integer"));
    }

    @Test
    void rejectsFilesThatAreNotPalm4jWeights() throws IOException {
        Path f = dir.resolve("pt.safetensors");
        float[] p = new float[new ParamLayout(C).size()];
        Safetensors.write(f, Map.of("format", "pt"), ModelWeights.tensors(new ParamLayout(C), p, ""));
        assertTrue(assertThrows(InputException.class, () -> ModelWeights.load(f)).problem().contains("not a palm4j weights file"));
        Safetensors.write(f, Map.of("format", "palm4j"), ModelWeights.tensors(new ParamLayout(C), p, ""));
        assertTrue(assertThrows(InputException.class, () -> ModelWeights.load(f)).problem().contains("no model config"));
        Safetensors.write(f, Map.of("format", "palm4j", "config", "{\"vocab\":"), ModelWeights.tensors(new ParamLayout(C), p, ""));
        assertTrue(assertThrows(InputException.class, () -> ModelWeights.load(f)).problem().contains("malformed JSON"));
    }

    @Test
    void missingExtraAndMisshapenTensorsAreNamed() throws IOException {
        ParamLayout layout = new ParamLayout(C);
        float[] p = new float[layout.size()];
        Path f = dir.resolve("bad.safetensors");

        List<Safetensors.Tensor> ts = new ArrayList<>(ModelWeights.tensors(layout, p, ""));
        ts.remove(3);
        Safetensors.write(f, ModelWeights.metadata(C), ts);
        assertTrue(assertThrows(InputException.class, () -> ModelWeights.load(f)).problem().contains("layers.0.attn.wk"));

        ts = new ArrayList<>(ModelWeights.tensors(layout, p, ""));
        ts.add(new Safetensors.Tensor("lm_head.weight", new long[] {2}, p));
        Safetensors.write(f, ModelWeights.metadata(C), ts);
        assertTrue(assertThrows(InputException.class, () -> ModelWeights.load(f)).problem().contains("'lm_head.weight'"));

        ts = new ArrayList<>(ModelWeights.tensors(layout, p, ""));
        ts.set(0, new Safetensors.Tensor("embed.weight", new long[] {8, 11}, p));
        Safetensors.write(f, ModelWeights.metadata(C), ts);
        String problem = assertThrows(InputException.class, () -> ModelWeights.load(f)).problem();
        assertTrue(problem.contains("'embed.weight'") && problem.contains("[8, 11]") && problem.contains("[11, 8]"), problem);
    }

    /** A model-parallel rank loads exactly its slice of each full tensor. */
    @Test
    void shardedLayoutsLoadTheirSlices() throws IOException {
        ParamLayout full = new ParamLayout(C);
        float[] p = random(full.size(), 2);
        Path f = dir.resolve("model.safetensors");
        ModelWeights.save(f, C, p);
        for (int rank = 0; rank < 2; rank++) {
            ParamLayout shard = new ParamLayout(C, rank, 2);
            float[] mine = new float[shard.size()];
            try (SafetensorsFile s = SafetensorsFile.open(f)) {
                ModelWeights.readInto(s, shard, mine, "");
            }
            for (ParamLayout.Tensor t : shard.tensors()) {
                ParamLayout.Tensor w = full.tensor(t.name());
                for (int r = 0; r < t.rows(); r++)
                    for (int c = 0; c < t.cols(); c++)
                        assertEquals(Float.floatToRawIntBits(p[w.offset() + (t.rowStart() + r) * w.cols() + t.colStart() + c]),
                                Float.floatToRawIntBits(mine[t.offset() + r * t.cols() + c]), t.name());
            }
        }
        assertThrows(IllegalArgumentException.class, () -> ModelWeights.tensors(new ParamLayout(C, 0, 2), p, ""));
    }

    @Test
    void optimizerStyleSuffixesReadBack() throws IOException {
        ParamLayout layout = new ParamLayout(C);
        float[] m = random(layout.size(), 3), v = random(layout.size(), 4);
        List<Safetensors.Tensor> ts = new ArrayList<>(ModelWeights.tensors(layout, m, ".exp_avg"));
        ts.addAll(ModelWeights.tensors(layout, v, ".exp_avg_sq"));
        Path f = dir.resolve("opt.safetensors");
        Safetensors.write(f, null, ts);
        try (SafetensorsFile s = SafetensorsFile.open(f)) {
            float[] m2 = new float[layout.size()], v2 = new float[layout.size()];
            ModelWeights.readInto(s, layout, m2, ".exp_avg");
            ModelWeights.readInto(s, layout, v2, ".exp_avg_sq");
            assertArrayEquals(m, m2);
            assertArrayEquals(v, v2);
            ModelWeights.requireNoOthers(s, layout, java.util.Set.of(".exp_avg", ".exp_avg_sq"));
        }
    }
}
