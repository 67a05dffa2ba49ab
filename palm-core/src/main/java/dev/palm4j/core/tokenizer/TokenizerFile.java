package dev.palm4j.core.tokenizer;

import dev.palm4j.core.InputException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * {@code palm-tokenizer.json}: palm4j's tokenizer file (docs/tokenizer.md). Read strictly: an
 * unknown key, a missing key, a wrong version or an inconsistent vocabulary is an error that
 * names the file and the problem.
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
            s.append(i == 0 ? "\n" : ",\n").append("    {\"id\": ").append(256 + i).append(", \"token\": ");
            quote(s, specials.get(i));
            s.append('}');
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
        String text;
        try {
            if (Files.isDirectory(file)) throw new InputException(file + " is a directory, not a palm4j tokenizer file");
            if (Files.size(file) > MAX_FILE_BYTES) throw bad(file, "too large to be a tokenizer file (" + Files.size(file) + " bytes)");
            text = StandardCharsets.UTF_8.newDecoder().decode(ByteBuffer.wrap(Files.readAllBytes(file))).toString();
        } catch (NoSuchFileException e) {
            throw new InputException("tokenizer file " + file + " does not exist");
        } catch (CharacterCodingException e) {
            throw bad(file, "not a palm4j tokenizer file (it is not UTF-8 text)");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read tokenizer " + file + ": " + e.getMessage(), e);
        }
        Object root;
        try {
            root = new Json(text).parseDocument();
        } catch (InputException e) {
            throw bad(file, "not a palm4j tokenizer file (not valid JSON: " + e.getMessage() + ")");
        }
        if (!(root instanceof Map<?, ?> map) || !FORMAT.equals(map.get("format"))) {
            throw bad(file, "not a palm4j tokenizer file (expected a JSON object with \"format\": \"" + FORMAT + "\")");
        }
        for (Object key : map.keySet()) {
            if (!Set.of("format", "version", "model", "vocab_size", "special_tokens", "merges").contains(key)) {
                throw bad(file, "unknown key \"" + key + "\"");
            }
        }
        long version = integer(file, map, "version");
        if (version != VERSION) {
            throw bad(file, "format version " + version + " is not supported: this palm4j reads version " + VERSION);
        }
        if (!MODEL.equals(map.get("model"))) throw bad(file, "\"model\" must be \"" + MODEL + "\", got " + map.get("model"));
        long vocab = integer(file, map, "vocab_size");

        List<String> specials = new ArrayList<>();
        for (Object o : list(file, map, "special_tokens")) {
            if (!(o instanceof Map<?, ?> sp) || !(sp.get("id") instanceof Long id) || !(sp.get("token") instanceof String token)
                    || sp.size() != 2) {
                throw bad(file, "each special token must be {\"id\": <int>, \"token\": <string>}, got " + o);
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
        List<Object> mergeList = list(file, map, "merges");
        int[][] merges = new int[mergeList.size()][];
        for (int r = 0; r < merges.length; r++) {
            if (!(mergeList.get(r) instanceof List<?> pair) || pair.size() != 2 || !(pair.get(0) instanceof Long a)
                    || !(pair.get(1) instanceof Long b) || a < 0 || b < 0 || a > Integer.MAX_VALUE || b > Integer.MAX_VALUE) {
                throw bad(file, "merge " + r + " must be a pair of token ids [left, right], got " + mergeList.get(r));
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

    private static long integer(Path file, Map<?, ?> map, String key) {
        if (!(map.get(key) instanceof Long v)) throw bad(file, "\"" + key + "\" must be an integer, got " + map.get(key));
        return v;
    }

    @SuppressWarnings("unchecked")
    private static List<Object> list(Path file, Map<?, ?> map, String key) {
        if (!(map.get(key) instanceof List<?> v)) throw bad(file, "\"" + key + "\" must be a list, got " + map.get(key));
        return (List<Object>) v;
    }

    private static InputException bad(Path file, String problem) {
        return new InputException("tokenizer file " + file + ": " + problem);
    }

    static void quote(StringBuilder s, String v) {
        s.append('"');
        for (int i = 0; i < v.length(); i++) {
            char c = v.charAt(i);
            switch (c) {
                case '"' -> s.append("\\\"");
                case '\\' -> s.append("\\\\");
                case '\n' -> s.append("\\n");
                case '\t' -> s.append("\\t");
                case '\r' -> s.append("\\r");
                default -> {
                    if (c < 0x20) s.append(String.format("\\u%04x", (int) c));
                    else s.append(c);
                }
            }
        }
        s.append('"');
    }

    /**
     * A small strict JSON reader: objects become insertion-ordered maps (a repeated key is an
     * error), arrays lists, strings strings, integers Long, true/false Boolean, null null. Numbers
     * with a fraction or exponent are rejected: palm4j's tokenizer file has none.
     */
    static final class Json {
        private final String s;
        private int i;

        Json(String s) {
            this.s = s;
        }

        Object parseDocument() {
            Object v = value(0);
            skipSpace();
            if (i != s.length()) throw error("unexpected text after the end");
            return v;
        }

        private Object value(int depth) {
            if (depth > 64) throw error("nested too deeply");
            skipSpace();
            if (i >= s.length()) throw error("unexpected end of file");
            char c = s.charAt(i);
            if (c == '{') return object(depth);
            if (c == '[') return array(depth);
            if (c == '"') return string();
            if (c == '-' || (c >= '0' && c <= '9')) return number();
            if (s.startsWith("true", i)) { i += 4; return Boolean.TRUE; }
            if (s.startsWith("false", i)) { i += 5; return Boolean.FALSE; }
            if (s.startsWith("null", i)) { i += 4; return null; }
            throw error("unexpected character '" + c + "'");
        }

        private Map<String, Object> object(int depth) {
            Map<String, Object> m = new LinkedHashMap<>();
            i++;
            skipSpace();
            if (peek() == '}') { i++; return m; }
            while (true) {
                skipSpace();
                if (peek() != '"') throw error("expected a quoted key");
                String key = string();
                skipSpace();
                expect(':');
                if (m.containsKey(key)) throw error("key \"" + key + "\" appears twice");
                m.put(key, value(depth + 1));
                skipSpace();
                if (peek() == ',') { i++; continue; }
                expect('}');
                return m;
            }
        }

        private List<Object> array(int depth) {
            List<Object> a = new ArrayList<>();
            i++;
            skipSpace();
            if (peek() == ']') { i++; return a; }
            while (true) {
                a.add(value(depth + 1));
                skipSpace();
                if (peek() == ',') { i++; continue; }
                expect(']');
                return a;
            }
        }

        private String string() {
            StringBuilder b = new StringBuilder();
            i++;
            while (true) {
                if (i >= s.length()) throw error("unterminated string");
                char c = s.charAt(i++);
                if (c == '"') return b.toString();
                if (c < 0x20) throw error("control character in a string");
                if (c != '\\') { b.append(c); continue; }
                if (i >= s.length()) throw error("unterminated string");
                char e = s.charAt(i++);
                switch (e) {
                    case '"', '\\', '/' -> b.append(e);
                    case 'b' -> b.append('\b');
                    case 'f' -> b.append('\f');
                    case 'n' -> b.append('\n');
                    case 'r' -> b.append('\r');
                    case 't' -> b.append('\t');
                    case 'u' -> {
                        if (i + 4 > s.length()) throw error("short \\u escape");
                        try {
                            b.append((char) Integer.parseInt(s.substring(i, i + 4), 16));
                        } catch (NumberFormatException x) {
                            throw error("bad \\u escape");
                        }
                        i += 4;
                    }
                    default -> throw error("bad escape \\" + e);
                }
            }
        }

        private Long number() {
            int start = i;
            if (peek() == '-') i++;
            while (i < s.length() && Character.isDigit(s.charAt(i)) && s.charAt(i) < 128) i++;
            if (i < s.length() && (s.charAt(i) == '.' || s.charAt(i) == 'e' || s.charAt(i) == 'E')) {
                throw error("only integers are expected");
            }
            String t = s.substring(start, i);
            if (t.equals("-") || t.isEmpty()) throw error("bad number");
            if ((t.startsWith("0") && t.length() > 1) || t.startsWith("-0")) throw error("bad number " + t);
            try {
                return Long.parseLong(t);
            } catch (NumberFormatException e) {
                throw error("number " + t + " is out of range");
            }
        }

        private char peek() {
            return i < s.length() ? s.charAt(i) : '\0';
        }

        private void expect(char c) {
            if (peek() != c) throw error("expected '" + c + "'");
            i++;
        }

        private void skipSpace() {
            while (i < s.length() && (s.charAt(i) == ' ' || s.charAt(i) == '\n' || s.charAt(i) == '\r' || s.charAt(i) == '\t')) i++;
        }

        private InputException error(String what) {
            int line = 1;
            for (int k = 0; k < Math.min(i, s.length()); k++) if (s.charAt(k) == '\n') line++;
            return new InputException(what + " at line " + line);
        }
    }
}
