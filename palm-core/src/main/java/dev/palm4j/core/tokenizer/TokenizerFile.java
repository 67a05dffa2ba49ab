package dev.palm4j.core.tokenizer;

import dev.palm4j.core.InputException;
import dev.palm4j.core.io.Json;
import dev.palm4j.core.io.JsonException;
import dev.palm4j.core.io.JsonObject;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * {@code palm-tokenizer.json}: palm4j's tokenizer file (docs/tokenizer.md). Read strictly with
 * {@link Json} and {@link JsonObject}: malformed JSON, an unknown, missing or repeated key, a wrong
 * version or an inconsistent vocabulary is an {@link InputException} that names the file and the
 * problem. Written in a fixed layout (one special token or merge per line), strings escaped by
 * {@link Json#write}.
 */
final class TokenizerFile {
    private TokenizerFile() {}

    static final String FORMAT = "palm4j-tokenizer";
    static final int VERSION = 1;
    static final String MODEL = "byte-level-bpe";
    private static final long MAX_FILE_BYTES = 1L << 30;

    static void write(Tokenizer tok, Path file) {
        StringBuilder s = new StringBuilder(16 * tok.mergeCount() + 256);
        s.append("{\n");
        s.append("  \"format\": \"").append(FORMAT).append("\",\n");
        s.append("  \"version\": ").append(VERSION).append(",\n");
        s.append("  \"model\": \"").append(MODEL).append("\",\n");
        s.append("  \"vocab_size\": ").append(tok.vocabSize()).append(",\n");
        s.append("  \"special_tokens\": [");
        List<String> specials = tok.specialTokens();
        for (int i = 0; i < specials.size(); i++) {
            s.append(i == 0 ? "\n" : ",\n").append("    {\"id\": ").append(256 + i)
                    .append(", \"token\": ").append(Json.write(specials.get(i))).append('}');
        }
        s.append("\n  ],\n  \"merges\": [");
        int[][] merges = tok.merges();
        for (int r = 0; r < merges.length; r++) {
            s.append(r == 0 ? "\n" : ",\n").append("    [").append(merges[r][0]).append(", ").append(merges[r][1]).append(']');
        }
        s.append(merges.length == 0 ? "]\n}\n" : "\n  ]\n}\n");
        try {
            Path parent = file.toAbsolutePath().getParent();
            Files.createDirectories(parent);
            // Write aside and rename, so a crash never leaves half a tokenizer under the real name.
            Path tmp = parent.resolve("." + file.getFileName() + ".tmp-" + ProcessHandle.current().pid() + "-" + System.nanoTime());
            try {
                Files.writeString(tmp, s, StandardCharsets.UTF_8);
                Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            } finally {
                Files.deleteIfExists(tmp);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write tokenizer " + file + ": " + e.getMessage(), e);
        }
    }

    static Tokenizer read(Path file) {
        String name = "tokenizer file " + file;
        byte[] bytes;
        try {
            if (Files.isDirectory(file)) throw new InputException(file + " is a directory, not a palm4j tokenizer file");
            if (Files.size(file) > MAX_FILE_BYTES) throw bad(file, "too large to be a tokenizer file (" + Files.size(file) + " bytes)");
            bytes = Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            throw new InputException("tokenizer file " + file + " does not exist",
                    "check the path; palm tokenizer train writes one, and every checkpoint holds its palm-tokenizer.json");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read tokenizer " + file + ": " + e.getMessage(), e);
        }
        Object root;
        try {
            root = Json.parse(bytes, name); // checks UTF-8 too
        } catch (JsonException e) {
            throw bad(file, "not a palm4j tokenizer file (not valid JSON at byte " + e.position() + ": " + e.detail() + ")");
        }
        if (!(root instanceof Map<?, ?> map) || !FORMAT.equals(map.get("format"))) {
            throw bad(file, "not a palm4j tokenizer file (expected a JSON object with \"format\": \"" + FORMAT + "\")");
        }
        JsonObject doc = JsonObject.of(root, name);
        doc.allowOnly("format", "version", "model", "vocab_size", "special_tokens", "merges");
        long version = doc.longValue("version");
        if (version != VERSION) {
            throw bad(file, "format version " + version + " is not supported: this palm4j reads version " + VERSION);
        }
        if (!MODEL.equals(doc.get("model"))) throw bad(file, "\"model\" must be \"" + MODEL + "\", got " + Json.write(doc.get("model")));
        long vocab = doc.longValue("vocab_size");

        List<String> specials = new ArrayList<>();
        for (Object o : doc.list("special_tokens")) {
            if (!(o instanceof Map<?, ?> sp) || !(sp.get("id") instanceof Long id) || !(sp.get("token") instanceof String token)
                    || sp.size() != 2) {
                throw bad(file, "each special token must be {\"id\": <int>, \"token\": <string>}, got " + Json.write(o));
            }
            if (id != 256 + specials.size()) {
                throw bad(file, "special token '" + token + "' has id " + id + ", expected " + (256 + specials.size())
                        + " (special tokens take the ids right after the 256 bytes, in order)");
            }
            if (token.isEmpty() || specials.contains(token)) throw bad(file, "special token '" + token + "' is empty or repeated");
            specials.add(token);
        }
        if (specials.isEmpty() || !specials.get(0).equals(Tokenizer.EOD)) {
            throw bad(file, "the first special token must be " + Tokenizer.EOD + " with id 256");
        }
        List<Object> mergeList = doc.list("merges");
        int[][] merges = new int[mergeList.size()][];
        for (int r = 0; r < merges.length; r++) {
            if (!(mergeList.get(r) instanceof List<?> pair) || pair.size() != 2 || !(pair.get(0) instanceof Long a)
                    || !(pair.get(1) instanceof Long b) || a < 0 || b < 0 || a > Integer.MAX_VALUE || b > Integer.MAX_VALUE) {
                throw bad(file, "merge " + r + " must be a pair of token ids [left, right], got " + Json.write(mergeList.get(r)));
            }
            merges[r] = new int[] {(int) (long) a, (int) (long) b};
        }
        if (vocab != 256L + specials.size() + merges.length) {
            throw bad(file, "vocab_size is " + vocab + " but 256 bytes + " + specials.size() + " special tokens + "
                    + merges.length + " merges make " + (256 + specials.size() + merges.length));
        }
        try {
            return new Tokenizer(specials, merges);
        } catch (InputException e) {
            throw bad(file, e.getMessage());
        }
    }

    private static InputException bad(Path file, String problem) {
        return new InputException("tokenizer file " + file + ": " + problem);
    }
}
