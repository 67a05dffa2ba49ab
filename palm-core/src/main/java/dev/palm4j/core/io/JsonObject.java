package dev.palm4j.core.io;

import dev.palm4j.core.InputException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Checked, typed access to one parsed JSON object. Every error is an {@link InputException}
 * naming {@code where} (say {@code "run/checkpoints/step-00000100/state.json"}), the key and
 * what was found, so file readers need no error plumbing of their own.
 */
public record JsonObject(Map<String, Object> map, String where) {

    /** {@code value} as an object, or an error saying {@code where} should have been one. */
    @SuppressWarnings("unchecked")
    public static JsonObject of(Object value, String where) {
        if (!(value instanceof Map<?, ?> m))
            throw new InputException(where + " must be a JSON object, found " + kind(value), null);
        return new JsonObject((Map<String, Object>) m, where);
    }

    public boolean has(String key) {
        return map.containsKey(key);
    }

    public Set<String> keys() {
        return map.keySet();
    }

    /** The value under {@code key}, which must be present (it may be JSON null). */
    public Object get(String key) {
        if (!map.containsKey(key)) throw new InputException(where + ": \"" + key + "\" is missing", null);
        return map.get(key);
    }

    public String string(String key) {
        if (get(key) instanceof String s) return s;
        throw wrongType(key, "a string");
    }

    /** An integer literal (no fraction or exponent) within a long; also a Java Integer in a map built by hand. */
    public long longValue(String key) {
        Object v = get(key);
        if (isInteger(v)) return ((Number) v).longValue();
        throw wrongType(key, "an integer");
    }

    public int intValue(String key) {
        long v = longValue(key);
        if (v != (int) v) throw new InputException(where + ": \"" + key + "\" = " + v + " is out of range for an int", null);
        return (int) v;
    }

    /** Any number. */
    public double doubleValue(String key) {
        if (get(key) instanceof Number n) return n.doubleValue();
        throw wrongType(key, "a number");
    }

    public boolean bool(String key) {
        if (get(key) instanceof Boolean b) return b;
        throw wrongType(key, "true or false");
    }

    public JsonObject object(String key) {
        Object v = get(key);
        if (v instanceof Map) return of(v, where + ": \"" + key + "\"");
        throw wrongType(key, "an object");
    }

    @SuppressWarnings("unchecked")
    public List<Object> list(String key) {
        if (get(key) instanceof List<?> l) return (List<Object>) l;
        throw wrongType(key, "an array");
    }

    /** An array of integers, e.g. an RNG state or a shape. */
    public long[] longs(String key) {
        List<Object> l = list(key);
        long[] out = new long[l.size()];
        for (int i = 0; i < out.length; i++) {
            if (!isInteger(l.get(i))) throw wrongType(key, "an array of integers");
            out[i] = ((Number) l.get(i)).longValue();
        }
        return out;
    }

    /** Rejects keys outside {@code allowed}, naming the first unknown one and listing the allowed. */
    public void allowOnly(String... allowed) {
        Set<String> ok = new LinkedHashSet<>(Arrays.asList(allowed));
        List<String> unknown = new ArrayList<>();
        for (String k : map.keySet()) if (!ok.contains(k)) unknown.add(k);
        if (!unknown.isEmpty())
            throw new InputException(where + ": unknown key \"" + unknown.get(0) + "\"", "known keys: " + String.join(", ", ok));
    }

    private InputException wrongType(String key, String expected) {
        return new InputException(where + ": \"" + key + "\" must be " + expected + ", found " + kind(map.get(key)), null);
    }

    private static boolean isInteger(Object v) {
        return v instanceof Long || v instanceof Integer || v instanceof Short || v instanceof Byte;
    }

    /** A short description of a parsed value for error messages. */
    static String kind(Object v) {
        if (v == null) return "null";
        if (v instanceof String s) return "the string \"" + (s.length() > 40 ? s.substring(0, 37) + "..." : s) + "\"";
        if (v instanceof Map) return "an object";
        if (v instanceof List) return "an array";
        if (v instanceof Double d) return "the number " + d;
        return String.valueOf(v);
    }
}
