package example;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Runs the example of docs/library.md. It lives outside the dev.palm4j packages, so it compiles
 * only against the public API; the doc must show this file exactly.
 */
class LibraryExampleTest {
    static final Path SOURCE = Path.of("src/test/java/example/LibraryExample.java"), DOC = Path.of("../docs/library.md");

    @Test
    void trainsThenGenerates(@TempDir Path work) throws Exception {
        LibraryExample.Result r = LibraryExample.run(work);
        assertEquals(40, r.losses().size());
        double first = r.losses().get(0), last = r.losses().get(39);
        assertTrue(last < first - 1.0, "the loss should fall clearly: " + first + " -> " + last);
        assertFalse(r.text().isBlank(), "generated some text");
    }

    @Test
    void theDocShowsThisExactCode() throws Exception {
        // Surefire runs in the module directory (palm-train), so the paths are relative to it.
        String source = Files.readString(SOURCE).replace("\r\n", "\n"), doc = Files.readString(DOC).replace("\r\n", "\n");
        assertTrue(doc.contains("```java\n" + source + "```"),
                "docs/library.md must hold " + SOURCE + " verbatim in a ```java block: copy it there after a change");
    }
}
