package dev.palm4j.train.data;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.SplittableRandom;

/**
 * A small English-like corpus palm4j writes itself (no download): sentences from a tiny grammar
 * with agreement, a few fixed phrases and numbers, so a small model can visibly learn its
 * structure in seconds. Used by {@code configs/tiny.yaml} and tests. Deterministic: the same
 * bytes on every machine.
 */
public final class SyntheticCorpus {
    private SyntheticCorpus() {}

    public static final String NAME = "synthetic";
    static final int DOCUMENTS = 8, SENTENCES = 600;

    private static final String[] SUBJECTS = {"the king", "the shepherd", "a young woman", "the old man", "the people",
            "my brother", "the prophet", "a stranger"};
    private static final String[] VERBS = {"went up to", "looked upon", "came unto", "walked toward", "sat beside",
            "spoke of", "remembered"};
    private static final String[] PLACES = {"the mountain", "the city", "the river", "the temple", "the gate",
            "the field", "the sea"};
    private static final String[] ENDINGS = {"in the morning", "at evening", "for many days", "with great joy",
            "and was afraid", "and rested"};

    /** The corpus directory {@code dir}, written when missing (one file per document). */
    public static Path ensure(Path dir) {
        if (isComplete(dir)) return dir;
        try {
            Files.createDirectories(dir.getParent() == null ? Path.of(".") : dir.getParent());
            Path tmp = Files.createTempDirectory(dir.toAbsolutePath().getParent(), ".synthetic-");
            SplittableRandom r = new SplittableRandom(20221005);
            for (int d = 0; d < DOCUMENTS; d++)
                Files.writeString(tmp.resolve(String.format("%02d-part.txt", d + 1)), document(r, d), StandardCharsets.UTF_8);
            dev.palm4j.train.FileTree.delete(dir);
            Files.move(tmp, dir, StandardCopyOption.ATOMIC_MOVE);
            return dir;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the synthetic corpus to " + dir + ": " + e.getMessage(), e);
        }
    }

    static boolean isComplete(Path dir) {
        for (int d = 0; d < DOCUMENTS; d++)
            if (!Files.isRegularFile(dir.resolve(String.format("%02d-part.txt", d + 1)))) return false;
        return true;
    }

    private static String document(SplittableRandom r, int d) {
        StringBuilder sb = new StringBuilder("Part " + (d + 1) + "\n\n");
        for (int s = 0; s < SENTENCES; s++) {
            String subject = SUBJECTS[r.nextInt(SUBJECTS.length)];
            sb.append(Character.toUpperCase(subject.charAt(0))).append(subject, 1, subject.length()).append(' ')
                    .append(VERBS[r.nextInt(VERBS.length)]).append(' ').append(PLACES[r.nextInt(PLACES.length)]);
            if (r.nextInt(3) == 0) sb.append(' ').append(ENDINGS[r.nextInt(ENDINGS.length)]);
            if (r.nextInt(5) == 0) sb.append(" on day ").append(1 + r.nextInt(40));
            sb.append(s % 7 == 6 ? ".\n" : ". ");
        }
        return sb.append('\n').toString();
    }
}
