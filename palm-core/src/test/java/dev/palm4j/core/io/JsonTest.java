package dev.palm4j.core.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class JsonTest {

    @Test
    void parsesEveryKindOfValue() {
        Object v = Json.parse(" {\"a\": [1, -2, 3.5, -0.25e2, 1E3, true, false, null], \"b\": {}, \"c\": [], \"d\": \"x\\\"y\\\\z\\/\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00\"}\n");
        Map<String, Object> expected = new LinkedHashMap<>();
        expected.put("a", Arrays.asList(1L, -2L, 3.5, -25.0, 1000.0, true, false, null));
        expected.put("b", Map.of());
        expected.put("c", List.of());
        expected.put("d", "x\"y\\z/\b\f\n\r\té\uD83D\uDE00");
        assertEquals(expected, v);
        assertEquals(List.of("a", "b", "c", "d"), new ArrayList<>(((Map<?, ?>) v).keySet()), "key order is kept");
    }

    @Test
    void numbersAreLongsWhenIntegralElseDoubles() {
        assertEquals(Long.MAX_VALUE, Json.parse("9223372036854775807"));
        assertEquals(Long.MIN_VALUE, Json.parse("-9223372036854775808"));
        assertEquals(9.223372036854775808E18, Json.parse("9223372036854775808"), "beyond a long: a double");
        assertEquals(1e300, Json.parse("1e300"));
        assertEquals(0L, Json.parse("-0"));
        assertEquals(4.9e-324, Json.parse("4.9e-324"));
        assertEquals(0.0, Json.parse("1e-400"), "underflow rounds to zero as Double.parseDouble does");
    }

    @Test
    void rawUtf8IsDecoded() {
        assertEquals("héllo \u4e16\u754c \uD83D\uDE00", Json.parse("\"héllo 世界 😀\""));
    }

    @Test
    void writeIsCompactAndEscapesLikeSerdeJson() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("s", "q\"b\\n\nt\tc\u0001\u001f/é😀\u007f");
        m.put("i", 42);
        m.put("l", -7L);
        m.put("d", 0.1);
        m.put("f", 1e-5f);
        m.put("b", true);
        m.put("n", null);
        m.put("a", new long[] {1, 2});
        m.put("o", Map.of());
        m.put("e", List.of());
        assertEquals("{\"s\":\"q\\\"b\\\\n\\nt\\tc\\u0001\\u001f/é😀\u007f\",\"i\":42,\"l\":-7,\"d\":0.1,\"f\":1.0E-5,"
                + "\"b\":true,\"n\":null,\"a\":[1,2],\"o\":{},\"e\":[]}", Json.write(m));
    }

    @Test
    void prettyOutputParsesBackToTheSameValue() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("step", 12L);
        m.put("rng", List.of(1L, -2L));
        m.put("nested", Map.of("x", List.of(Map.of("y", "z"))));
        m.put("empty", Map.of());
        String s = Json.writePretty(m);
        assertTrue(s.contains("\n  \"step\": 12,\n"), s);
        assertTrue(s.contains("\"rng\": [1, -2]"), s);
        assertEquals(m, Json.parse(s));
    }

    @Test
    void randomValuesRoundTrip() {
        Random r = new Random(1);
        for (int i = 0; i < 300; i++) {
            Object v = randomValue(r, 0);
            assertEquals(v, Json.parse(Json.write(v)));
            assertEquals(v, Json.parse(Json.writePretty(v)));
        }
    }

    @Test
    void floatsWrittenAsFloatsReadBackToTheSameFloat() {
        Random r = new Random(2);
        for (int i = 0; i < 10_000; i++) {
            float f = Float.intBitsToFloat(r.nextInt());
            if (!Float.isFinite(f)) continue;
            assertEquals(f, (float) (double) (Double) Json.parse(Json.write(f)));
        }
        for (int i = 0; i < 10_000; i++) {
            double d = Double.longBitsToDouble(r.nextLong());
            if (!Double.isFinite(d)) continue;
            assertEquals(d, (Double) Json.parse(Json.write(d)));
        }
    }

    @Test
    void writerRejectsWhatJsonCannotHold() {
        assertThrows(IllegalArgumentException.class, () -> Json.write(Double.NaN));
        assertThrows(IllegalArgumentException.class, () -> Json.write(Float.POSITIVE_INFINITY));
        assertThrows(IllegalArgumentException.class, () -> Json.write(Map.of(1, 2)));
        assertThrows(IllegalArgumentException.class, () -> Json.write(new Object()));
        assertThrows(IllegalArgumentException.class, () -> Json.write("lone \uD800 surrogate"));
    }

    @ParameterizedTest
    @ValueSource(strings = {
            "", " ", "{", "[", "[1,", "{\"a\"", "{\"a\":", "{\"a\":1", "\"abc", "\"a\\", "\"\\u12", "tru", "nul", "fals",
            "[1,]", "{\"a\":1,}", "{,}", "[,1]", "{\"a\" 1}", "{a:1}", "{'a':1}", "[1 2]", "{\"a\":1 \"b\":2}",
            "01", "-", "-a", "1.", ".5", "+1", "1e", "1e+", "0x10", "NaN", "Infinity", "-Infinity", "1e400", "-1e400",
            "\"\\x\"", "\"\\u00G0\"", "\"\\ud800\"", "\"\\udc00\"", "\"\\ud800\\u0041\"", "\"tab\there\"", "\"nl\nhere\"",
            "// comment\n1", "/* c */1", "1 2", "[] []", "{\"a\":1,\"a\":2}", "[1]]", "\u0000", "True", "Null"})
    void malformedInputIsAnErrorWithAPosition(String text) {
        JsonException e = assertThrows(JsonException.class, () -> Json.parse(text));
        assertTrue(e.position() >= 0 && e.position() <= text.getBytes(StandardCharsets.UTF_8).length, e.getMessage());
        assertTrue(e.getMessage().startsWith("JSON: malformed JSON at byte " + e.position() + ": "), e.getMessage());
    }

    @Test
    void errorsNameTheSourceAndTheExactByte() {
        JsonException e = assertThrows(JsonException.class,
                () -> Json.parse("{\"a\": [1, 2 3]}".getBytes(StandardCharsets.UTF_8), "state.json"));
        assertEquals(12, e.position());
        assertEquals("state.json: malformed JSON at byte 12: expected ',' or ']' in an array, found '3'", e.problem());
        e = assertThrows(JsonException.class, () -> Json.parse("{\"k\": 1, \"k\": 2}"));
        assertEquals(9, e.position());
        assertTrue(e.problem().contains("duplicate key \"k\""), e.problem());
        e = assertThrows(JsonException.class, () -> Json.parse("[1e999]"));
        assertEquals(1, e.position());
        assertTrue(e.problem().contains("out of range"), e.problem());
    }

    @Test
    void invalidUtf8IsRejectedWhereItIs() {
        byte[][] bad = {
                {'"', (byte) 0xC3, '"'},                        // truncated two-byte sequence
                {'"', (byte) 0x80, '"'},                        // lone continuation byte
                {'"', (byte) 0xC0, (byte) 0xAF, '"'},           // overlong '/'
                {'"', (byte) 0xED, (byte) 0xA0, (byte) 0x80, '"'}, // UTF-8 encoded surrogate
                {'"', (byte) 0xF5, (byte) 0x80, (byte) 0x80, (byte) 0x80, '"'}, // beyond U+10FFFF
                {'"', 'a', (byte) 0xE4, (byte) 0xB8},           // truncated at end of input
                {(byte) 0xEF, (byte) 0xBB, (byte) 0xBF, '1'},   // byte order mark
                {'[', (byte) 0xFF, ']'},                        // garbage outside a string
        };
        for (byte[] b : bad) {
            JsonException e = assertThrows(JsonException.class, () -> Json.parse(b, "t"), Arrays.toString(b));
            assertTrue(e.position() < b.length, e.getMessage());
        }
        assertEquals(1, assertThrows(JsonException.class, () -> Json.parse(bad[1], "t")).position());
    }

    @Test
    void deepNestingIsAnErrorNotAStackOverflow() {
        String ok = "[".repeat(Json.MAX_DEPTH) + "]".repeat(Json.MAX_DEPTH);
        assertTrue(Json.parse(ok) instanceof List);
        String deep = "[".repeat(100_000);
        JsonException e = assertThrows(JsonException.class, () -> Json.parse(deep));
        assertEquals(Json.MAX_DEPTH, e.position());
        assertTrue(e.problem().contains("nesting deeper"), e.problem());
        assertThrows(JsonException.class, () -> Json.parse("{\"a\":".repeat(10_000)));
    }

    @Test
    void hugeNumbersAndLongStringsAreHandled() {
        String digits = "1" + "0".repeat(5000);
        assertThrows(JsonException.class, () -> Json.parse(digits), "a 5001-digit integer overflows a double");
        assertEquals(1.0, Json.parse("0." + "9".repeat(5000)));
        String big = "x".repeat(1 << 20);
        assertEquals(big, Json.parse("\"" + big + "\""));
    }

    /** Truncating or flipping bytes of a valid document never escapes as anything but JsonException. */
    @Test
    void mutatedDocumentsFailCleanly() {
        Random r = new Random(3);
        for (int i = 0; i < 200; i++) {
            byte[] doc = Json.write(randomValue(r, 0)).getBytes(StandardCharsets.UTF_8);
            for (int k = 0; k < 20; k++) {
                byte[] m = k < 10 ? Arrays.copyOf(doc, r.nextInt(doc.length)) : doc.clone();
                if (k >= 10) m[r.nextInt(m.length)] = (byte) r.nextInt(256);
                try {
                    Json.parse(m, "fuzz");
                } catch (JsonException expected) {
                    assertTrue(expected.position() >= 0 && expected.position() <= m.length);
                }
            }
        }
    }

    static Object randomValue(Random r, int depth) {
        int kind = r.nextInt(depth > 4 ? 5 : 7);
        switch (kind) {
            case 0: return null;
            case 1: return r.nextBoolean();
            case 2: return r.nextLong() >> r.nextInt(64);
            case 3: {
                double d = Double.longBitsToDouble(r.nextLong());
                return Double.isFinite(d) ? d : 0.5;
            }
            case 4: {
                StringBuilder sb = new StringBuilder();
                for (int i = r.nextInt(8); i > 0; i--) {
                    int cp = switch (r.nextInt(4)) {
                        case 0 -> r.nextInt(0x20);
                        case 1 -> 0x20 + r.nextInt(0x60);
                        case 2 -> 0x80 + r.nextInt(0xD000);
                        default -> 0x10000 + r.nextInt(0x100000);
                    };
                    sb.appendCodePoint(cp);
                }
                return sb.toString();
            }
            case 5: {
                List<Object> l = new ArrayList<>();
                for (int i = r.nextInt(5); i > 0; i--) l.add(randomValue(r, depth + 1));
                return l;
            }
            default: {
                Map<String, Object> m = new LinkedHashMap<>();
                for (int i = r.nextInt(5); i > 0; i--) m.put("k" + r.nextInt(100) + "\"\u00e9", randomValue(r, depth + 1));
                return m;
            }
        }
    }
}
