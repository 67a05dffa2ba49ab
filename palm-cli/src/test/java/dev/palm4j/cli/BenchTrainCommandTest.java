package dev.palm4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.palm4j.core.io.Json;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code palm bench train --json}: the fields DESIGN.md promises scripts, plus the JIT's state. */
class BenchTrainCommandTest {
    @TempDir Path dir;

    @Test
    void jsonLastLineCarriesThroughputMfuAndTheJitState() {
        Path config = Path.of("../configs/tiny.yaml").toAbsolutePath().normalize();
        HostileInputTest.Run r = HostileInputTest.run("bench", "train", "--config", config.toString(), "--warmup", "1",
                "--steps", "1", "--json", "--set", "data.cache_dir=" + dir.resolve("cache"));
        assertEquals(0, r.code(), r.stderr());
        List<String> lines = r.stdout().lines().toList();
        Map<?, ?> m = (Map<?, ?>) Json.parse(lines.get(lines.size() - 1));
        for (String key : List.of("tokens_per_s", "mfu", "step_ms", "peak_gflops", "allocated_mb_per_step"))
            assertTrue(m.get(key) instanceof Number x && x.doubleValue() > 0, key + " in " + m);
        assertTrue(m.get("kernel_ms") instanceof Map<?, ?> k && k.containsKey("proj_in") && k.containsKey("attention"),
                "kernel_ms in " + m);
        assertEquals(Boolean.TRUE, m.get("jit_hints"), "the compiler directive reaches the JIT in a plain JVM");
        assertTrue(r.stdout().contains("where a step goes"), r.stdout());
    }
}
