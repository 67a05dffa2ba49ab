package dev.palm4j.core.io;

import dev.palm4j.core.InputException;

/** Malformed JSON: names the source (a file, say), the byte position and what was wrong there. */
public final class JsonException extends InputException {
    private static final long serialVersionUID = 1L;

    private final String source;
    private final int position;
    private final String detail;

    public JsonException(String source, int position, String problem) {
        super(source + ": malformed JSON at byte " + position + ": " + problem, "the file is damaged or not JSON");
        this.source = source;
        this.position = position;
        this.detail = problem;
    }

    /** What was being parsed, as given to {@link Json#parse(byte[], String)}. */
    public String source() {
        return source;
    }

    /** Byte offset of the error in the input (0-based). */
    public int position() {
        return position;
    }

    /** What was wrong at {@link #position()}, without the source or the position. */
    public String detail() {
        return detail;
    }
}
