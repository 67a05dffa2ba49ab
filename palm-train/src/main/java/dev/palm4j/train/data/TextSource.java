package dev.palm4j.train.data;

import dev.palm4j.core.InputException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.PathMatcher;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * Text to train on: a file, a directory of files (all regular files below it, hidden ones
 * skipped) or a glob ({@code data/*.txt}, {@code corpus/**.md}). Each file is one document, read
 * as raw bytes: the tokenizer is byte-level, so any content (any encoding, even binary) is
 * handled losslessly. Files are in sorted path order, so document order never depends on the
 * file system.
 */
public record TextSource(String spec, List<Path> files) {
    public TextSource {
        files = List.copyOf(files);
    }

    private static final String CHECK_PATH = "check the path: give a text file, a directory of them or a glob such as 'texts/*.txt'";

    /** Resolves {@code spec}; an input that is missing, matches nothing or is empty is an {@link InputException}. */
    public static TextSource of(String spec) {
        if (spec == null || spec.isBlank()) throw new InputException("no input given", "name a text file, a directory or a glob");
        List<Path> files = isGlob(spec) ? glob(spec) : list(Path.of(spec));
        TextSource s = new TextSource(spec, files);
        if (s.totalBytes() == 0) {
            throw new InputException("input " + spec + " is empty (" + files.size() + " file" + (files.size() == 1 ? "" : "s") + ", 0 bytes)",
                    "give text to train on: a tokenizer and a model need at least a few kilobytes");
        }
        return s;
    }

    public static TextSource of(Path path) {
        return of(path.toString());
    }

    /** Total size of the files in bytes. */
    public long totalBytes() {
        long n = 0;
        for (Path p : files) n += size(p);
        return n;
    }

    /** Document {@code i}'s bytes. */
    public byte[] read(int i) {
        try {
            return Files.readAllBytes(files.get(i));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + files.get(i) + ": " + e.getMessage(), e);
        }
    }

    /** All documents' bytes. */
    public List<byte[]> readAll() {
        List<byte[]> out = new ArrayList<>(files.size());
        for (int i = 0; i < files.size(); i++) out.add(read(i));
        return out;
    }

    static long size(Path p) {
        try {
            return Files.size(p);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + p + ": " + e.getMessage(), e);
        }
    }

    private static boolean isGlob(String spec) {
        return spec.chars().anyMatch(c -> c == '*' || c == '?' || c == '[' || c == '{');
    }

    private static List<Path> list(Path path) {
        if (Files.isRegularFile(path)) return List.of(path);
        if (!Files.isDirectory(path)) throw new InputException("input " + path + " does not exist", CHECK_PATH);
        List<Path> files = walk(path, p -> true);
        if (files.isEmpty()) throw new InputException("input directory " + path + " holds no files", "put text files in it (hidden files are skipped)");
        return files;
    }

    private static List<Path> glob(String spec) {
        // The directory part before the first wildcard is where the search starts.
        int wild = 0;
        while ("*?[{".indexOf(spec.charAt(wild)) < 0) wild++;
        int slash = spec.lastIndexOf('/', wild);
        Path base = slash < 0 ? Path.of(".") : Path.of(slash == 0 ? "/" : spec.substring(0, slash));
        String pattern = spec.substring(slash + 1);
        if (!Files.isDirectory(base)) throw new InputException("input " + spec + ": directory " + base + " does not exist", CHECK_PATH);
        PathMatcher m = FileSystems.getDefault().getPathMatcher("glob:" + pattern);
        List<Path> files = walk(base, p -> m.matches(base.relativize(p)));
        if (files.isEmpty()) throw new InputException("no files match " + spec, "check the pattern; '**' matches across directories");
        return files;
    }

    private static List<Path> walk(Path dir, java.util.function.Predicate<Path> keep) {
        try (Stream<Path> s = Files.walk(dir)) {
            return s.filter(Files::isRegularFile)
                    .filter(p -> !hidden(dir.relativize(p)))
                    .filter(keep)
                    .sorted()
                    .toList();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + dir + ": " + e.getMessage(), e);
        }
    }

    private static boolean hidden(Path relative) {
        for (Path part : relative) if (part.toString().startsWith(".")) return true;
        return false;
    }
}
