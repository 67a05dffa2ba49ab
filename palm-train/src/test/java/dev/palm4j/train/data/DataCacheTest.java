package dev.palm4j.train.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.palm4j.core.InputException;
import dev.palm4j.core.kernels.Parallel;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DataCacheTest {
    @TempDir Path dir;

    @Test
    void preparesOnceAndAgainWhenTheTextChanges() throws IOException {
        Random r = new Random(1);
        for (int d = 0; d < 5; d++) Files.writeString(dir.resolve("doc" + d + ".txt"), PrepareTest.text(r, 500));
        List<String> log = new ArrayList<>();
        DataCache.Spec spec = new DataCache.Spec(dir + "/*.txt", 300, List.of(), 0.2, 0);
        Path cache = dir.resolve("cache");
        Path a = DataCache.ensure(spec, cache, Parallel.SERIAL, log::add);
        assertEquals(2, log.size());
        assertTrue(ShardLoader.open(a, "train", 2, 8, 0).sequences() > 0);
        assertEquals(a, DataCache.ensure(spec, cache, Parallel.SERIAL, log::add));
        assertEquals(2, log.size()); // cached
        Files.writeString(dir.resolve("doc0.txt"), "changed text, longer than before " + PrepareTest.text(r, 600));
        assertNotEquals(a, DataCache.ensure(spec, cache, Parallel.SERIAL, log::add));
        assertNotEquals(a, DataCache.ensure(new DataCache.Spec(dir + "/*.txt", 310, List.of(), 0.2, 0), cache, Parallel.SERIAL, log::add));
        assertThrows(InputException.class, () -> new DataCache.Spec("x", 100, List.of(), 0.1, 0));
    }
}
