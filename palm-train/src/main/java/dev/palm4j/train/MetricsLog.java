package dev.palm4j.train;

import dev.palm4j.core.io.Json;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * {@code metrics.jsonl}: one JSON object per line, per step ({@code step}, {@code loss}, ...) or
 * per event ({@code "event": "resume"}, ...). Lines are flushed as written, so a crash loses at
 * most the line being written.
 */
final class MetricsLog implements AutoCloseable {
    static final String FILE = "metrics.jsonl";
    private final BufferedWriter out;

    private MetricsLog(BufferedWriter out) {
        this.out = out;
    }

    /** Opens the log for appending, first dropping every line about a step after {@code keepUpTo}. */
    static MetricsLog open(Path runDir, long keepUpTo) {
        Path file = runDir.resolve(FILE);
        try {
            if (Files.exists(file)) {
                List<String> kept = new ArrayList<>();
                for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
                    if (line.isBlank()) continue;
                    Object step;
                    try {
                        step = ((Map<?, ?>) Json.parse(line)).get("step");
                    } catch (RuntimeException e) {
                        continue; // a line cut off by a crash
                    }
                    if (!(step instanceof Number n) || n.longValue() <= keepUpTo) kept.add(line);
                }
                Path tmp = file.resolveSibling(FILE + ".tmp");
                Files.write(tmp, kept, StandardCharsets.UTF_8);
                Files.move(tmp, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
            }
            return new MetricsLog(Files.newBufferedWriter(file, StandardCharsets.UTF_8, StandardOpenOption.CREATE,
                    StandardOpenOption.APPEND));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot open " + file + ": " + e.getMessage(), e);
        }
    }

    void write(Map<String, ?> record) {
        try {
            out.write(Json.write(record));
            out.newLine();
            out.flush();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + FILE + ": " + e.getMessage(), e);
        }
    }

    @Override
    public void close() {
        try {
            out.close();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
