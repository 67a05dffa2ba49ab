package dev.palm4j.train.data;

import dev.palm4j.core.InputException;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.stream.Stream;

/**
 * Named corpora that palm4j can build by itself. {@code kjv}: the King James Bible from Debian's
 * {@code bible-kjv} packages, 66 books as 66 documents, made by {@code data/kjv.sh} (bundled in
 * this jar, so it also works outside the repository).
 */
public final class Corpus {
    private Corpus() {}

    public static final String KJV = "kjv";
    static final int KJV_BOOKS = 66;
    static final String SCRIPT = "kjv.sh";

    /** The corpora palm4j can build: the King James Bible, and a small generated text for tests and tiny runs. */
    public static final java.util.List<String> NAMES = java.util.List.of(KJV, SyntheticCorpus.NAME);

    /** Whether {@code name} is a corpus palm4j can build (rather than a path). */
    public static boolean isNamed(String name) {
        return NAMES.contains(name);
    }

    /** The corpus directory {@code cacheRoot/name}, built when missing. */
    public static Path resolve(String name, Path cacheRoot) {
        if (!isNamed(name)) throw new InputException("unknown corpus '" + name + "': palm4j can build " + NAMES);
        return name.equals(KJV) ? kjv(cacheRoot.resolve(KJV)) : SyntheticCorpus.ensure(cacheRoot.resolve(name));
    }

    /** The KJV corpus in {@code dir}, running data/kjv.sh when it is not complete there. */
    public static Path kjv(Path dir) {
        if (isComplete(dir)) return dir;
        return runScript(bundledScript(), dir);
    }

    /** Whether {@code dir} holds the 66 book files. */
    public static boolean isComplete(Path dir) {
        if (!Files.isDirectory(dir)) return false;
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> p.getFileName().toString().matches("\\d\\d-.*\\.txt")).count() == KJV_BOOKS;
        } catch (IOException e) {
            return false;
        }
    }

    /** Runs {@code script dir} with bash; the script's output goes to stderr as it comes. */
    static Path runScript(Path script, Path dir) {
        Process p;
        try {
            p = new ProcessBuilder("bash", script.toString(), dir.toAbsolutePath().toString()).redirectErrorStream(true).start();
        } catch (IOException e) {
            throw new InputException("cannot build the " + KJV + " corpus: bash is not available (" + e.getMessage() + ")",
                    "train on your own text instead (a file, a directory of files or a glob)", e);
        }
        Deque<String> tail = new ArrayDeque<>();
        try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
            for (String line; (line = r.readLine()) != null; ) {
                System.err.println(line);
                tail.addLast(line);
                if (tail.size() > 10) tail.removeFirst();
            }
            int rc = p.waitFor();
            String said = String.join("\n", tail);
            if (rc == 3) throw new InputException("cannot build the " + KJV + " corpus:\n" + said);
            if (rc != 0 || !isComplete(dir)) {
                throw new IllegalStateException("data/kjv.sh failed (exit " + rc + ") building " + dir + ":\n" + said);
            }
            return dir;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            p.destroy();
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while building the " + KJV + " corpus", e);
        }
    }

    /** The script from this jar's resources, copied to a temporary file (deleted on exit). */
    private static Path bundledScript() {
        try (InputStream in = Corpus.class.getResourceAsStream(SCRIPT)) {
            if (in == null) throw new IllegalStateException(SCRIPT + " is missing from palm-train's resources");
            Path tmp = Files.createTempFile("palm4j-kjv", ".sh");
            tmp.toFile().deleteOnExit();
            Files.copy(in, tmp, StandardCopyOption.REPLACE_EXISTING);
            return tmp;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
