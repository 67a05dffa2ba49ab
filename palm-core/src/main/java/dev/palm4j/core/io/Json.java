package dev.palm4j.core.io;

import java.lang.reflect.Array;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Strict JSON (RFC 8259) for palm4j's own files: safetensors headers, {@code state.json}, run
 * metadata, the tokenizer file. The core has no dependencies, hence this small one.
 *
 * <p>Parsed values are {@code Map<String, Object>} (a {@link LinkedHashMap}: key order kept),
 * {@code List<Object>}, {@code String}, {@code Long} (an integer literal that fits in a long),
 * {@code Double} (any other number), {@code Boolean} and {@code null}. Strict means: one value and
 * nothing after it but whitespace, no comments, no trailing commas, no duplicate keys, no NaN or
 * Infinity, no leading zeros, valid UTF-8 and paired surrogates only, nesting at most
 * {@value #MAX_DEPTH} deep (so a hostile file cannot overflow the stack), and numbers within a
 * double's range. Every error is a {@link JsonException} with the byte position.
 *
 * <p>The writer is the inverse: compact output byte for byte the way Rust's serde_json writes it
 * (the safetensors reference implementation), or indented for files people read.
 */
public final class Json {
    private Json() {}

    /** Deepest nesting of arrays and objects the parser accepts. */
    public static final int MAX_DEPTH = 512;

    /** Parses {@code text}; errors name it "JSON". */
    public static Object parse(String text) {
        return parse(text.getBytes(StandardCharsets.UTF_8), "JSON");
    }

    /** Parses UTF-8 {@code bytes}; {@code source} (a file name, say) starts every error message. */
    public static Object parse(byte[] bytes, String source) {
        return new Parser(bytes, source).document();
    }

    /** Compact: no whitespace, like serde_json's {@code to_string}. */
    public static String write(Object value) {
        StringBuilder sb = new StringBuilder();
        new Writer(sb, false).value(value, 0);
        return sb.toString();
    }

    /** Two-space indentation, one member per line; arrays of scalars stay on one line. */
    public static String writePretty(Object value) {
        StringBuilder sb = new StringBuilder();
        new Writer(sb, true).value(value, 0);
        return sb.append('\n').toString();
    }

    // ---------------------------------------------------------------------------------- reading

    private static final class Parser {
        private final byte[] b;
        private final String source;
        private int pos, depth;

        Parser(byte[] b, String source) {
            this.b = b;
            this.source = source;
        }

        Object document() {
            if (b.length >= 3 && (b[0] & 0xff) == 0xEF && (b[1] & 0xff) == 0xBB && (b[2] & 0xff) == 0xBF)
                throw error("starts with a UTF-8 byte order mark, which JSON does not allow");
            Object v = value();
            skipWhitespace();
            if (pos < b.length) throw error("unexpected " + describe(pos) + " after the end of the value");
            return v;
        }

        private Object value() {
            skipWhitespace();
            if (pos >= b.length) throw error("unexpected end of input, expected a value");
            return switch (b[pos]) {
                case '{' -> object();
                case '[' -> array();
                case '"' -> string();
                case 't' -> literal("true", Boolean.TRUE);
                case 'f' -> literal("false", Boolean.FALSE);
                case 'n' -> literal("null", null);
                case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9' -> number();
                default -> throw error("unexpected " + describe(pos) + ", expected a value");
            };
        }

        private Map<String, Object> object() {
            enter();
            pos++; // '{'
            Map<String, Object> map = new LinkedHashMap<>();
            skipWhitespace();
            if (peek() == '}') {
                pos++;
                depth--;
                return map;
            }
            while (true) {
                skipWhitespace();
                if (peek() != '"') throw error("expected a string key, found " + describe(pos));
                int keyAt = pos;
                String key = string();
                skipWhitespace();
                expect(':', "after an object key");
                Object v = value();
                if (map.containsKey(key)) {
                    pos = keyAt;
                    throw error("duplicate key \"" + key + "\"");
                }
                map.put(key, v);
                skipWhitespace();
                int c = peek();
                pos++;
                if (c == '}') break;
                if (c != ',') {
                    pos--;
                    throw error("expected ',' or '}' in an object, found " + describe(pos));
                }
            }
            depth--;
            return map;
        }

        private List<Object> array() {
            enter();
            pos++; // '['
            List<Object> list = new ArrayList<>();
            skipWhitespace();
            if (peek() == ']') {
                pos++;
                depth--;
                return list;
            }
            while (true) {
                list.add(value());
                skipWhitespace();
                int c = peek();
                pos++;
                if (c == ']') break;
                if (c != ',') {
                    pos--;
                    throw error("expected ',' or ']' in an array, found " + describe(pos));
                }
            }
            depth--;
            return list;
        }

        private void enter() {
            if (++depth > MAX_DEPTH) throw error("nesting deeper than " + MAX_DEPTH + " levels");
        }

        private String string() {
            int start = pos++;
            StringBuilder sb = new StringBuilder();
            while (true) {
                if (pos >= b.length) {
                    pos = start;
                    throw error("unterminated string");
                }
                int c = b[pos] & 0xff;
                if (c == '"') {
                    pos++;
                    return sb.toString();
                } else if (c == '\\') {
                    escape(sb);
                } else if (c < 0x20) {
                    throw error("raw control character " + describe(pos) + " in a string (escape it)");
                } else if (c < 0x80) {
                    sb.append((char) c);
                    pos++;
                } else {
                    utf8(sb);
                }
            }
        }

        private void escape(StringBuilder sb) {
            int at = pos++;
            if (pos >= b.length) {
                pos = at;
                throw error("unterminated escape sequence");
            }
            switch (b[pos++]) {
                case '"' -> sb.append('"');
                case '\\' -> sb.append('\\');
                case '/' -> sb.append('/');
                case 'b' -> sb.append('\b');
                case 'f' -> sb.append('\f');
                case 'n' -> sb.append('\n');
                case 'r' -> sb.append('\r');
                case 't' -> sb.append('\t');
                case 'u' -> {
                    char c = hex4(at);
                    if (Character.isHighSurrogate(c)) {
                        if (pos + 1 < b.length && b[pos] == '\\' && b[pos + 1] == 'u') {
                            pos += 2;
                            char low = hex4(pos - 2);
                            if (!Character.isLowSurrogate(low)) {
                                pos = at;
                                throw error("high surrogate \\u" + hex(c) + " not followed by a low surrogate");
                            }
                            sb.append(c).append(low);
                        } else {
                            pos = at;
                            throw error("unpaired high surrogate \\u" + hex(c));
                        }
                    } else if (Character.isLowSurrogate(c)) {
                        pos = at;
                        throw error("unpaired low surrogate \\u" + hex(c));
                    } else {
                        sb.append(c);
                    }
                }
                default -> {
                    pos = at;
                    throw error("invalid escape sequence \\" + printable(at + 1));
                }
            }
        }

        private char hex4(int escapeAt) {
            if (pos + 4 > b.length) {
                pos = escapeAt;
                throw error("truncated \\u escape");
            }
            int v = 0;
            for (int i = 0; i < 4; i++) {
                int d = Character.digit(b[pos + i], 16);
                if (d < 0) {
                    pos = escapeAt;
                    throw error("\\u escape needs four hex digits");
                }
                v = v << 4 | d;
            }
            pos += 4;
            return (char) v;
        }

        /** Decodes one UTF-8 sequence by hand so a malformed byte is reported where it is. */
        private void utf8(StringBuilder sb) {
            int b0 = b[pos] & 0xff, n, cp;
            if (b0 < 0xC2) throw error("invalid UTF-8 byte " + describe(pos));
            else if (b0 < 0xE0) { n = 1; cp = b0 & 0x1F; }
            else if (b0 < 0xF0) { n = 2; cp = b0 & 0x0F; }
            else if (b0 < 0xF5) { n = 3; cp = b0 & 0x07; }
            else throw error("invalid UTF-8 byte " + describe(pos));
            if (pos + n >= b.length) throw error("truncated UTF-8 sequence");
            for (int k = 1; k <= n; k++) {
                int c = b[pos + k] & 0xff;
                if ((c & 0xC0) != 0x80) throw error("invalid UTF-8 sequence");
                cp = cp << 6 | (c & 0x3F);
            }
            if (n == 2 && cp < 0x800 || n == 3 && cp < 0x10000 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
                throw error("invalid UTF-8 sequence (overlong, surrogate or out of range)");
            sb.appendCodePoint(cp);
            pos += n + 1;
        }

        private Object number() {
            int start = pos;
            if (peek() == '-') pos++;
            if (peek() == '0') {
                pos++;
                if (isDigit(peek())) throw error("leading zero in a number");
            } else if (isDigit(peek())) {
                while (isDigit(peek())) pos++;
            } else {
                throw error("expected a digit, found " + describe(pos));
            }
            boolean integer = true;
            if (peek() == '.') {
                integer = false;
                pos++;
                if (!isDigit(peek())) throw error("expected a digit after the decimal point, found " + describe(pos));
                while (isDigit(peek())) pos++;
            }
            if (peek() == 'e' || peek() == 'E') {
                integer = false;
                pos++;
                if (peek() == '+' || peek() == '-') pos++;
                if (!isDigit(peek())) throw error("expected a digit in the exponent, found " + describe(pos));
                while (isDigit(peek())) pos++;
            }
            String s = new String(b, start, pos - start, StandardCharsets.US_ASCII);
            if (integer) {
                try {
                    return Long.parseLong(s);
                } catch (NumberFormatException tooBig) {
                    // beyond a long: falls through to a double, like most JSON readers
                }
            }
            double d = Double.parseDouble(s);
            if (Double.isInfinite(d)) {
                pos = start;
                throw error("number " + abbreviate(s) + " is out of range");
            }
            return d;
        }

        private Object literal(String word, Object v) {
            for (int i = 0; i < word.length(); i++)
                if (pos + i >= b.length || b[pos + i] != word.charAt(i))
                    throw error("unexpected " + describe(pos) + ", expected a value");
            pos += word.length();
            return v;
        }

        private void expect(char c, String where) {
            if (peek() != c) throw error("expected '" + c + "' " + where + ", found " + describe(pos));
            pos++;
        }

        private void skipWhitespace() {
            while (pos < b.length && (b[pos] == ' ' || b[pos] == '\n' || b[pos] == '\r' || b[pos] == '\t')) pos++;
        }

        private int peek() {
            return pos < b.length ? b[pos] : -1;
        }

        private static boolean isDigit(int c) {
            return c >= '0' && c <= '9';
        }

        private String describe(int at) {
            if (at >= b.length) return "end of input";
            int c = b[at] & 0xff;
            return c >= 0x20 && c < 0x7F ? "'" + (char) c + "'" : String.format("byte 0x%02x", c);
        }

        private String printable(int at) {
            if (at >= b.length) return "";
            int c = b[at] & 0xff;
            return c >= 0x20 && c < 0x7F ? String.valueOf((char) c) : String.format("<0x%02x>", c);
        }

        private JsonException error(String problem) {
            return new JsonException(source, pos, problem);
        }
    }

    private static String hex(char c) {
        return String.format("%04x", (int) c);
    }

    private static String abbreviate(String s) {
        return s.length() <= 40 ? s : s.substring(0, 37) + "...";
    }

    // ---------------------------------------------------------------------------------- writing

    private record Writer(StringBuilder sb, boolean pretty) {
        void value(Object v, int indent) {
            if (v == null) sb.append("null");
            else if (v instanceof String s) string(s);
            else if (v instanceof Boolean) sb.append(v);
            else if (v instanceof Double d) finite(d, Double.toString(d));
            else if (v instanceof Float f) finite(f, Float.toString(f)); // shortest text that reads back as this float
            else if (v instanceof Long || v instanceof Integer || v instanceof Short || v instanceof Byte
                    || v instanceof BigInteger) sb.append(v);
            else if (v instanceof BigDecimal d) sb.append(d);
            else if (v instanceof Map<?, ?> m) object(m, indent);
            else if (v instanceof Iterable<?> it) {
                List<Object> items = new ArrayList<>();
                it.forEach(items::add);
                array(items, indent);
            } else if (v.getClass().isArray()) {
                List<Object> items = new ArrayList<>();
                for (int i = 0, n = Array.getLength(v); i < n; i++) items.add(Array.get(v, i));
                array(items, indent);
            } else throw new IllegalArgumentException("cannot write a " + v.getClass().getName() + " as JSON");
        }

        private void finite(double d, String text) {
            if (!Double.isFinite(d)) throw new IllegalArgumentException("JSON has no " + d);
            sb.append(text);
        }

        private void object(Map<?, ?> m, int indent) {
            sb.append('{');
            boolean first = true;
            for (Map.Entry<?, ?> e : m.entrySet()) {
                if (!(e.getKey() instanceof String key))
                    throw new IllegalArgumentException("JSON object keys must be strings, found " + e.getKey());
                if (!first) sb.append(',');
                first = false;
                newline(indent + 1);
                string(key);
                sb.append(pretty ? ": " : ":");
                value(e.getValue(), indent + 1);
            }
            if (!first) newline(indent);
            sb.append('}');
        }

        private void array(List<Object> items, int indent) {
            boolean inline = !pretty || items.stream().noneMatch(o -> o instanceof Map || o instanceof Iterable
                    || (o != null && o.getClass().isArray()));
            sb.append('[');
            for (int i = 0; i < items.size(); i++) {
                if (i > 0) sb.append(inline && pretty ? ", " : ",");
                if (!inline) newline(indent + 1);
                value(items.get(i), indent + 1);
            }
            if (!inline && !items.isEmpty()) newline(indent);
            sb.append(']');
        }

        private void newline(int indent) {
            if (pretty) sb.append('\n').append("  ".repeat(indent));
        }

        /** Escapes as serde_json does: the two-character forms, other controls as lowercase \\u00xx. */
        private void string(String s) {
            sb.append('"');
            for (int i = 0; i < s.length(); i++) {
                char c = s.charAt(i);
                switch (c) {
                    case '"' -> sb.append("\\\"");
                    case '\\' -> sb.append("\\\\");
                    case '\b' -> sb.append("\\b");
                    case '\f' -> sb.append("\\f");
                    case '\n' -> sb.append("\\n");
                    case '\r' -> sb.append("\\r");
                    case '\t' -> sb.append("\\t");
                    default -> {
                        if (c < 0x20) sb.append("\\u00").append(Character.forDigit(c >> 4, 16)).append(Character.forDigit(c & 15, 16));
                        else if (Character.isSurrogate(c) && !pairedAt(s, i))
                            throw new IllegalArgumentException("string has an unpaired surrogate at index " + i);
                        else sb.append(c);
                    }
                }
            }
            sb.append('"');
        }

        private static boolean pairedAt(String s, int i) {
            char c = s.charAt(i);
            if (Character.isHighSurrogate(c)) return i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1));
            return i > 0 && Character.isHighSurrogate(s.charAt(i - 1));
        }
    }
}
