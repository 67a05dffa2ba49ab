package dev.palm4j.train.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.palm4j.core.InputException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TextSourceTest {
    @TempDir Path dir;

    private Path file(String name, String content) throws IOException {
        Path p = dir.resolve(name);
        Files.createDirectories(p.getParent());
        Files.writeString(p, content);
        return p;
    }

    private List<String> names(TextSource s) {
        return s.files().stream().map(p -> dir.relativize(p).toString()).toList();
    }

    @Test
    void aFileADirectoryOrAGlob() throws IOException {
        file("b.txt", "bee");
        file("a.txt", "ay");
        file("sub/c.md", "see");
        file(".hidden", "no");
        file(".git/config", "no");
        assertEquals(List.of("a.txt"), names(TextSource.of(dir.resolve("a.txt"))));
        assertEquals(List.of("a.txt", "b.txt", "sub/c.md"), names(TextSource.of(dir)));
        assertEquals(List.of("a.txt", "b.txt"), names(TextSource.of(dir + "/*.txt")));
        assertEquals(List.of("sub/c.md"), names(TextSource.of(dir + "/**.md")));
        assertEquals(List.of("a.txt", "sub/c.md"), names(TextSource.of(dir + "/{a.txt,sub/*}")));
        TextSource s = TextSource.of(dir);
        assertEquals(8, s.totalBytes());
        assertArrayEquals("bee".getBytes(), s.readAll().get(1));
    }

    @Test
    void missingUnmatchedOrEmptyInputIsAnError() throws IOException {
        assertTrue(assertThrows(InputException.class, () -> TextSource.of(dir.resolve("nope.txt"))).getMessage().contains("does not exist"));
        assertTrue(assertThrows(InputException.class, () -> TextSource.of(dir)).getMessage().contains("holds no files"));
        assertTrue(assertThrows(InputException.class, () -> TextSource.of(dir + "/*.txt")).getMessage().contains("no files match"));
        file("empty.txt", "");
        assertTrue(assertThrows(InputException.class, () -> TextSource.of(dir)).getMessage().contains("is empty"));
        assertThrows(InputException.class, () -> TextSource.of(""));
        assertThrows(InputException.class, () -> TextSource.of(dir + "/missing/*.txt"));
    }
}
