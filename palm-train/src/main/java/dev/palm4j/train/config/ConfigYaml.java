package dev.palm4j.train.config;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.NullNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLGenerator;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import dev.palm4j.core.InputException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.List;
import java.util.regex.Pattern;

/** YAML text to a tree and back, {@code --set} overrides, and where an error came from. */
final class ConfigYaml {
    private ConfigYaml() {}

    static final YAMLMapper MAPPER = YAMLMapper.builder()
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION) // "steps: 1 ... steps: 2" is a mistake, not an override
            .disable(YAMLGenerator.Feature.WRITE_DOC_START_MARKER)
            .enable(YAMLGenerator.Feature.MINIMIZE_QUOTES)
            .enable(YAMLGenerator.Feature.ALWAYS_QUOTE_NUMBERS_AS_STRINGS) // a prompt "007" stays a string
            .build();

    /** The document's root mapping. */
    static ObjectNode read(String yaml, String source) {
        JsonNode root;
        try {
            root = MAPPER.readTree(yaml);
        } catch (JsonProcessingException e) {
            JsonLocation at = e.getLocation();
            throw new InputException("config " + source + " is not valid YAML: " + firstLine(e.getOriginalMessage())
                    + (at == null ? "" : " at line " + at.getLineNr() + ", column " + at.getColumnNr()),
                    "fix the YAML there: 'key: value' pairs, indented by section, brackets closed, each key once", e);
        } catch (IOException e) {
            throw new UncheckedIOException(e); // reading a String: cannot happen
        }
        if (root == null || root.isMissingNode() || root.isNull())
            throw new InputException("config " + source + " is empty", "a config needs at least model, data, train and schedule");
        if (!root.isObject())
            throw new InputException("config " + source + " is not a YAML mapping of sections (it is " + Keys.show(root) + ")",
                    "a config starts with keys such as model:, data:, train:");
        return (ObjectNode) root;
    }

    /** Applies {@code key=value} overrides in order; the value is read as a YAML scalar. */
    static void applySets(ObjectNode root, List<String> sets) {
        for (String set : sets) {
            int eq = set.indexOf('=');
            if (eq < 0) throw badSet(set, "is not key=value");
            String key = set.substring(0, eq).strip();
            String[] parts = key.split("\\.", -1);
            if (parts.length < 2) throw badSet(set, "does not name a key inside a section");
            for (String p : parts)
                if (p.isEmpty() || !p.equals(p.strip())) throw badSet(set, "has an empty part in its key '" + key + "'");
            ObjectNode at = root;
            for (int i = 0; i < parts.length - 1; i++) {
                JsonNode child = at.get(parts[i]);
                if (child == null || child.isNull()) child = at.putObject(parts[i]);
                if (!child.isObject())
                    throw badSet(set, "goes inside " + String.join(".", List.of(parts).subList(0, i + 1)) + ", which is a value, not a section");
                at = (ObjectNode) child;
            }
            at.set(parts[parts.length - 1], scalar(set.substring(eq + 1)));
        }
    }

    private static InputException badSet(String set, String problem) {
        return new InputException("--set '" + set + "' " + problem, "write --set section.key=value, e.g. --set model.n_layers=2");
    }

    /**
     * A --set value as YAML reads it (2 is a number, true a boolean, null or nothing the default,
     * [a, b] a list); text YAML would read as a mapping or cannot parse ("a: b", "#x") stays text.
     */
    static JsonNode scalar(String raw) {
        if (raw.isBlank()) return NullNode.getInstance();
        try {
            JsonNode n = MAPPER.readTree(raw);
            if (n != null && (n.isValueNode() || n.isArray())) return n;
        } catch (IOException e) {
            // not YAML on its own: the text itself
        }
        return TextNode.valueOf(raw);
    }

    /**
     * Prefixes an error found in the tree with where it came from: the --set that gave a key the
     * message names, else the config source.
     */
    static InputException locate(InputException e, String source, List<String> sets) {
        for (int i = sets.size() - 1; i >= 0; i--) { // the last --set of a key is the one in effect
            String set = sets.get(i);
            int eq = set.indexOf('=');
            String key = set.substring(0, eq).strip();
            for (String k = key; ; k = k.substring(0, k.lastIndexOf('.'))) {
                if (Pattern.compile("(?<![\\w.])" + Pattern.quote(k) + "(?![\\w.])").matcher(e.problem()).find())
                    return new InputException("--set " + set + ": " + e.problem(), e.hint(), e);
                if (k.indexOf('.') < 0) break;
            }
        }
        return new InputException(source + ": " + e.problem(), e.hint(), e);
    }

    static String write(ObjectNode root) {
        try {
            return MAPPER.writeValueAsString(root);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    private static String firstLine(String s) {
        if (s == null) return "unreadable";
        int nl = s.indexOf('\n');
        return (nl < 0 ? s : s.substring(0, nl)).strip();
    }
}
