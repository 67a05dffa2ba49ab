package dev.palm4j.train.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.palm4j.core.model.NormKind;
import dev.palm4j.core.model.PalmConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** The shipped configs in configs/: every one loads, validates and survives toYaml. */
class ConfigsTest {
    /** Surefire runs in the module directory; the configs are at the repository root. */
    static final Path DIR = Path.of("..", "configs");

    static Stream<Path> shipped() throws IOException {
        try (Stream<Path> s = Files.list(DIR)) {
            List<Path> files = s.filter(p -> p.toString().endsWith(".yaml")).sorted().toList();
            assertTrue(files.size() >= 5, "configs/ should hold at least tiny, small, anchor-s, anchor-m, base: " + files);
            return files.stream();
        }
    }

    @ParameterizedTest
    @MethodSource("shipped")
    void loadsValidatesAndRoundTrips(Path file) {
        RunConfig c = RunConfig.load(file);
        assertEquals(c, RunConfig.parse(c.toYaml(), "resolved " + file, List.of()));
    }

    /** docs/configuration.md has a table row for every key, so a new key cannot go undocumented. */
    @Test
    void everyKeyIsDocumented() throws IOException {
        String doc = Files.readString(Path.of("..", "docs", "configuration.md"));
        List<List<String>> keys = List.of(ModelSection.KEYS, DataConfig.KEYS, TrainConfig.KEYS, OptimizerConfig.KEYS,
                ScheduleConfig.KEYS, ParallelConfig.KEYS);
        for (int i = 0; i < keys.size(); i++) {
            String section = RunConfig.SECTIONS.get(i);
            int at = doc.indexOf("## `" + section + "`");
            assertTrue(at >= 0, "no section " + section);
            int end = doc.indexOf("\n## ", at + 1);
            String part = doc.substring(at, end < 0 ? doc.length() : end);
            for (String key : keys.get(i)) assertTrue(part.contains("| `" + key + "` |"), section + "." + key + " is not documented");
        }
    }

    @Test
    void expectedFilesExist() {
        for (String name : List.of("tiny", "small", "anchor-s", "anchor-m", "base"))
            assertTrue(Files.isRegularFile(DIR.resolve(name + ".yaml")), name);
    }

    /** The anchor configs are exactly ../shared/anchors/README.md's shapes and torch_palm.py's recipe. */
    @Test
    void anchorsMatchThePyTorchScript() {
        RunConfig s = RunConfig.load(DIR.resolve("anchor-s.yaml")), m = RunConfig.load(DIR.resolve("anchor-m.yaml"));
        assertEquals(new PalmConfig(256, 256, 4, 4, 64, 1, 4, NormKind.LAYERNORM, 1e-5f, 10000, 256, 1e-4f), s.model());
        assertEquals(new PalmConfig(8192, 512, 8, 8, 64, 1, 4, NormKind.LAYERNORM, 1e-5f, 10000, 512, 1e-4f), m.model());
        for (RunConfig c : List.of(s, m)) {
            assertEquals(8, c.train().batchSize());
            assertEquals(c.model().maxSeqLen(), c.train().seqLen());
            assertEquals(1, c.train().gradAccum());
            assertEquals(DataConfig.SourceKind.RANDOM, c.data().sourceKind());
            assertEquals(new OptimizerConfig(OptimizerConfig.Kind.ADAMW, 0.9, 0.95, 1e-8, 0.1, 0), c.optimizer());
            assertEquals(ScheduleConfig.constant(1e-3), c.schedule());
            assertEquals(ParallelConfig.SINGLE, c.parallel());
            assertEquals(1234, c.train().seed());
        }
    }

    @Test
    void tinyNeedsNoDownloadAndSmallIsTheKjvDefault() {
        RunConfig tiny = RunConfig.load(DIR.resolve("tiny.yaml"));
        assertEquals(DataConfig.SourceKind.RANDOM, tiny.data().sourceKind());
        assertTrue(tiny.model().parameterCount() < 1_000_000);
        RunConfig small = RunConfig.load(DIR.resolve("small.yaml"));
        assertEquals("kjv", small.data().source());
        assertEquals(4096, small.model().vocab());
        assertEquals(256, small.train().seqLen());
        assertTrue(small.model().parameterCount() > 1_000_000 && small.model().parameterCount() < 10_000_000);
    }
}
