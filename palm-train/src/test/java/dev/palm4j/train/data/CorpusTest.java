package dev.palm4j.train.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.palm4j.core.InputException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.junit.jupiter.api.io.TempDir;

class CorpusTest {
    @TempDir Path dir;

    @Test
    void aCompleteCorpusIsUsedAsItIs() throws IOException {
        Path kjv = dir.resolve("kjv");
        Files.createDirectories(kjv);
        for (int i = 1; i <= 66; i++) Files.writeString(kjv.resolve(String.format("%02d-book.txt", i)), "text " + i);
        assertTrue(Corpus.isComplete(kjv));
        assertEquals(kjv, Corpus.resolve("kjv", dir)); // would need apt otherwise
        assertFalse(Corpus.isComplete(dir));
        assertThrows(InputException.class, () -> Corpus.resolve("wikipedia", dir));
    }

    @Test
    void theScriptTravelsInTheJar() {
        assertNotNull(Corpus.class.getResource(Corpus.SCRIPT));
    }

    @Test
    void aScriptThatCannotFetchThePackagesGivesItsMessage() throws IOException {
        Path script = dir.resolve("fake.sh");
        Files.writeString(script, "echo \"kjv: 'apt-get' is not available. Install it.\" >&2; exit 3\n");
        InputException e = assertThrows(InputException.class, () -> Corpus.runScript(script, dir.resolve("out")));
        assertTrue(e.getMessage().contains("'apt-get' is not available"), e.getMessage());
        Files.writeString(script, "exit 1\n");
        assertThrows(IllegalStateException.class, () -> Corpus.runScript(script, dir.resolve("out")));
    }

    /** Fetches the real packages: {@code -Dpalm4j.kjv=true}. */
    @Test
    @EnabledIfSystemProperty(named = "palm4j.kjv", matches = "true")
    void buildsTheRealCorpus() throws IOException {
        Path kjv = Corpus.kjv(dir.resolve("kjv"));
        TextSource s = TextSource.of(kjv);
        assertEquals(66, s.files().size());
        assertTrue(s.totalBytes() > 4_000_000);
        assertTrue(Files.readString(kjv.resolve("01-genesis.txt")).startsWith("In the beginning God created the heaven and the earth.\n"));
    }
}
