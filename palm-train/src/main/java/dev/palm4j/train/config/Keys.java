package dev.palm4j.train.config;

import com.fasterxml.jackson.databind.JsonNode;
import dev.palm4j.core.InputException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.Function;

/**
 * One mapping of a config tree being read ({@code train:} and its keys). Every getter names the
 * full dotted key ({@code train.steps}) in its errors, so a message always says which line to
 * fix. A key whose value is null ({@code key:} or {@code key: ~}) counts as absent: the default
 * applies, which lets {@code --set key=null} undo a key set in the file.
 */
final class Keys {
    private final String path;
    private final JsonNode node; // an ObjectNode, or null for a section that is absent

    private Keys(String path, JsonNode node) {
        this.path = path;
        this.node = node;
    }

    /** The root mapping of a config; {@code valid} are its section names. */
    static Keys root(JsonNode root, List<String> valid) {
        Keys k = new Keys("", root);
        k.allow(valid);
        return k;
    }

    /** The section {@code name} of this mapping, whose keys must all be among {@code valid}. */
    Keys section(String name, List<String> valid) {
        JsonNode v = value(name);
        if (v != null && !v.isObject())
            throw new InputException(dotted(name) + " = " + show(v) + " is " + describe(v) + ", not a section of keys",
                    "write it as a mapping of keys, e.g. " + name + ": {" + valid.get(0) + ": ...}");
        Keys k = new Keys(dotted(name), v);
        k.allow(valid);
        return k;
    }

    /** Fails on the first key not in {@code valid}, naming it and listing the valid ones. */
    void allow(List<String> valid) {
        if (node == null) return;
        for (var it = node.fieldNames(); it.hasNext(); ) {
            String key = it.next();
            if (valid.contains(key)) continue;
            String near = nearest(key, valid);
            throw new InputException("unknown key " + dotted(key),
                    (near != null ? "did you mean " + dotted(near) + "? " : "") + "valid: " + String.join(", ", valid));
        }
    }

    /**
     * Fails on a key that is set but belongs to another variant of this section: {@code why}
     * names the choice ("optimizer.kind = adafactor"), {@code applicable} the keys that apply.
     */
    void onlyFor(String why, List<String> applicable, List<String> all) {
        for (String key : all)
            if (has(key) && !applicable.contains(key))
                throw new InputException(dotted(key) + " does not apply to " + why,
                        "keys for it: " + String.join(", ", applicable) + "; remove " + dotted(key) + " or set it to null");
    }

    boolean has(String key) {
        return value(key) != null;
    }

    int integer(String key) {
        if (!has(key)) throw missing(key);
        return integer(key, 0);
    }

    int integer(String key, int def) {
        return integer(key, value(key), def);
    }

    /** The integer at key, or null when absent (for defaults that depend on other keys). */
    Integer optInteger(String key) {
        return has(key) ? integer(key, value(key), 0) : null;
    }

    private int integer(String key, JsonNode v, int def) {
        if (v == null) return def;
        long n = whole(key, v, "an integer");
        if (n < Integer.MIN_VALUE || n > Integer.MAX_VALUE)
            throw new InputException(dotted(key) + " = " + show(v) + " is out of range", "at most " + Integer.MAX_VALUE);
        return (int) n;
    }

    long int64(String key, long def) {
        JsonNode v = value(key);
        return v == null ? def : whole(key, v, "an integer");
    }

    private long whole(String key, JsonNode v, String expected) {
        if (v.isIntegralNumber()) {
            if (v.canConvertToLong()) return v.longValue();
            throw new InputException(dotted(key) + " = " + show(v) + " is out of range", "at most " + Long.MAX_VALUE);
        }
        if (v.isFloatingPointNumber()) { // 1e4 reads as a float: accept it when it is whole
            double d = v.doubleValue();
            if (d == Math.rint(d) && Math.abs(d) < 0x1p53) return (long) d;
            throw new InputException(dotted(key) + " = " + show(v) + " is not a whole number", "expected " + expected);
        }
        throw typeError(key, v, expected);
    }

    double number(String key) {
        if (!has(key)) throw missing(key);
        return number(key, 0);
    }

    double number(String key, double def) {
        JsonNode v = value(key);
        if (v == null) return def;
        if (v.isNumber()) return v.doubleValue();
        throw typeError(key, v, "a number");
    }

    boolean bool(String key, boolean def) {
        JsonNode v = value(key);
        if (v == null) return def;
        if (v.isBoolean()) return v.booleanValue();
        throw typeError(key, v, "true or false");
    }

    String string(String key) {
        if (!has(key)) throw missing(key);
        return string(key, null);
    }

    /** Any scalar, as text: YAML reads {@code 2024} as a number, but a path or prompt may be that. */
    String string(String key, String def) {
        JsonNode v = value(key);
        if (v == null) return def;
        if (v.isValueNode()) return v.asText();
        throw typeError(key, v, "a string");
    }

    List<String> strings(String key, List<String> def) {
        JsonNode v = value(key);
        if (v == null) return def;
        if (!v.isArray()) throw typeError(key, v, "a list of strings, like [a, b]");
        List<String> out = new ArrayList<>();
        for (JsonNode e : v) {
            if (!e.isValueNode() || e.isNull()) throw typeError(key, v, "a list of strings, like [a, b]");
            out.add(e.asText());
        }
        return List.copyOf(out);
    }

    /** The list of mappings at {@code key} (empty when absent), each checked against {@code valid}. */
    List<Keys> sections(String key, List<String> valid) {
        JsonNode v = value(key);
        if (v == null) return List.of();
        if (!v.isArray()) throw typeError(key, v, "a list of mappings, like [{" + valid.get(0) + ": ...}]");
        List<Keys> out = new ArrayList<>();
        for (int i = 0; i < v.size(); i++) {
            JsonNode e = v.get(i);
            if (!e.isObject())
                throw new InputException(dotted(key) + "[" + i + "] = " + show(e) + " is " + describe(e) + ", not a mapping of keys",
                        "write each entry as {" + String.join(": ..., ", valid) + ": ...}");
            Keys k = new Keys(dotted(key) + "[" + i + "]", e);
            k.allow(valid);
            out.add(k);
        }
        return out;
    }

    /** One of {@code options}, each named in configs by {@code name}. */
    <E> E choice(String key, E def, E[] options, Function<E, String> name) {
        JsonNode v = value(key);
        if (v == null) return def;
        List<String> names = new ArrayList<>();
        for (E e : options) {
            if (v.isTextual() && name.apply(e).equals(v.textValue())) return e;
            names.add(name.apply(e));
        }
        throw new InputException(dotted(key) + " = " + show(v) + " is not one of " + String.join(", ", names), null);
    }

    /** The full dotted name of {@code key} in this mapping. */
    String dotted(String key) {
        return path.isEmpty() ? key : path + "." + key;
    }

    private JsonNode value(String key) {
        JsonNode v = node == null ? null : node.get(key);
        return v == null || v.isNull() || v.isMissingNode() ? null : v;
    }

    private InputException missing(String key) {
        return new InputException(dotted(key) + " is missing", "every config sets it; see docs/configuration.md");
    }

    private InputException typeError(String key, JsonNode v, String expected) {
        return new InputException(dotted(key) + " = " + show(v) + " is " + describe(v) + ", expected " + expected, null);
    }

    /** A value as the user wrote it, near enough: strings quoted, long values cut. */
    static String show(JsonNode v) {
        String s = v.isTextual() ? "'" + v.textValue() + "'" : v.toString();
        return s.length() > 60 ? s.substring(0, 57) + "..." : s;
    }

    private static String describe(JsonNode v) {
        if (v.isTextual()) return "a string";
        if (v.isBoolean()) return "a boolean";
        if (v.isIntegralNumber()) return "an integer";
        if (v.isNumber()) return "a number";
        if (v.isArray()) return "a list";
        if (v.isObject()) return "a mapping";
        return "a " + v.getNodeType().toString().toLowerCase(Locale.ROOT);
    }

    /** The valid key closest to a typo (same letters ignoring '_' and case, or edit distance <= 2). */
    private static String nearest(String key, List<String> valid) {
        String k = key.replace("_", "").toLowerCase(Locale.ROOT);
        String best = null;
        int bestD = 3;
        for (String v : valid) {
            int d = k.equals(v.replace("_", "")) ? 0 : distance(key.toLowerCase(Locale.ROOT), v);
            if (d < bestD) {
                bestD = d;
                best = v;
            }
        }
        return best;
    }

    private static int distance(String a, String b) {
        int[] prev = new int[b.length() + 1], cur = new int[b.length() + 1];
        for (int j = 0; j <= b.length(); j++) prev[j] = j;
        for (int i = 1; i <= a.length(); i++) {
            cur[0] = i;
            for (int j = 1; j <= b.length(); j++)
                cur[j] = Math.min(Math.min(cur[j - 1], prev[j]) + 1, prev[j - 1] + (a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1));
            int[] t = prev;
            prev = cur;
            cur = t;
        }
        return prev[b.length()];
    }
}
