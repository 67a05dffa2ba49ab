package dev.palm4j.train.config;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.palm4j.core.InputException;
import dev.palm4j.core.model.PalmConfig;
import dev.palm4j.core.model.ParamLayout;
import java.io.IOException;
import java.nio.charset.CharacterCodingException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;

/**
 * A training run's configuration: the YAML file {@code palm train --config} reads, typed and
 * validated (DESIGN.md, principle 6). Every key is documented in docs/configuration.md.
 *
 * <p>Loading reads the YAML into a tree, applies the {@code --set section.key=value} overrides,
 * then maps each section by hand: an unknown key, a value of the wrong type and a broken rule
 * are {@link InputException}s naming the dotted key, the value and the rule, prefixed with the
 * file (or the --set) they came from. Defaults are filled in at load time, so {@link #toYaml()}
 * writes a config that reproduces the run on its own.
 *
 * <p>Adding a section: a record with {@code KEYS}, {@code read(Keys)} and {@code write}, a
 * component here, a line in {@link #SECTIONS}, {@link #read} and {@link #toYaml}.
 */
public record RunConfig(PalmConfig model, DataConfig data, TrainConfig train, OptimizerConfig optimizer,
                        ScheduleConfig schedule, ParallelConfig parallel, List<FaultConfig> faults,
                        SpikeConfig spikes) {

    /** The top-level sections, in the order toYaml writes them. */
    public static final List<String> SECTIONS = List.of("model", "data", "train", "optimizer", "schedule", "parallel", "faults", "spikes");

    /** Rules across sections; each section's own rules are checked by its record. */
    public RunConfig {
        Object[] parts = {model, data, train, optimizer, schedule, parallel};
        for (int i = 0; i < parts.length; i++) Check.notNull(SECTIONS.get(i), parts[i]);
        if (data.vocabSize() != model.vocab())
            throw new InputException("data.vocab_size = " + data.vocabSize() + " differs from model.vocab = " + model.vocab(),
                    "the model's vocabulary is the tokenizer's: set one of them (each defaults to the other) or both equal");
        if (model.maxSeqLen() < train.seqLen())
            throw new InputException("model.max_seq_len = " + model.maxSeqLen() + " is shorter than train.seq_len = "
                    + train.seqLen(), "raise max_seq_len (it defaults to seq_len) or shorten seq_len");
        if (train.batchSize() % ((long) train.gradAccum() * parallel.data()) != 0)
            throw new InputException("train.batch_size = " + train.batchSize() + " is not divisible by train.grad_accum x parallel.data = "
                    + train.gradAccum() + " x " + parallel.data(), "every data rank takes an equal part of each micro-batch");
        if (parallel.model() > 1) new ParamLayout(model, 0, parallel.model()); // its rules: heads, FFN, kv heads divisible
        faults = List.copyOf(faults);
        FaultConfig.check(faults, parallel);
    }

    /** Reads a config file. */
    public static RunConfig load(Path file) {
        return load(file, List.of());
    }

    /** Reads a config file and applies {@code --set key=value} overrides before validating. */
    public static RunConfig load(Path file, List<String> sets) {
        String text;
        try {
            if (Files.isDirectory(file))
                throw new InputException("config " + file + " is a directory", "give a YAML file, e.g. configs/tiny.yaml");
            text = Files.readString(file);
        } catch (NoSuchFileException e) {
            throw new InputException("config file " + file + " does not exist", "check the path; shipped configs are in configs/", e);
        } catch (CharacterCodingException e) {
            throw new InputException("config " + file + " is not YAML: it is not UTF-8 text", "give a YAML file, e.g. configs/tiny.yaml", e);
        } catch (IOException e) {
            throw new InputException("cannot read config " + file + ": " + e.getMessage(), "check the file's permissions", e);
        }
        return parse(text, file.toString(), sets);
    }

    /**
     * Reads config text. {@code sourceName} names it in errors (a path, "--config", ...);
     * {@code sets} are {@code section.key=value} overrides applied in order (null = none).
     */
    public static RunConfig parse(String yaml, String sourceName, List<String> sets) {
        List<String> s = sets == null ? List.of() : List.copyOf(sets);
        ObjectNode root = ConfigYaml.read(yaml, sourceName);
        ConfigYaml.applySets(root, s);
        try {
            return read(root, Runtime.getRuntime().availableProcessors());
        } catch (InputException e) {
            throw ConfigYaml.locate(e, sourceName, s);
        }
    }

    private static RunConfig read(ObjectNode tree, int cpus) {
        Keys root = Keys.root(tree, SECTIONS);
        Keys m = root.section("model", ModelSection.KEYS), d = root.section("data", DataConfig.KEYS),
                t = root.section("train", TrainConfig.KEYS), o = root.section("optimizer", OptimizerConfig.KEYS),
                s = root.section("schedule", ScheduleConfig.KEYS), p = root.section("parallel", ParallelConfig.KEYS);
        // model.vocab and data.vocab_size default to each other: text sources think in tokenizer
        // size, random data and prepared shards in model size.
        Integer vocab = m.optInteger("vocab"), tokVocab = d.optInteger("vocab_size");
        if (vocab == null && tokVocab == null)
            throw new InputException("model.vocab is missing",
                    "set model.vocab, or data.vocab_size for a tokenizer trained on text (each defaults to the other)");
        DataConfig data = DataConfig.read(d, tokVocab != null ? tokVocab : vocab);
        TrainConfig train = TrainConfig.read(t, cpus);
        PalmConfig model = ModelSection.read(m, vocab != null ? vocab : tokVocab, train.seqLen());
        return new RunConfig(model, data, train, OptimizerConfig.read(o), ScheduleConfig.read(s, train.steps()),
                ParallelConfig.read(p), FaultConfig.read(root.sections("faults", FaultConfig.KEYS)),
                SpikeConfig.read(root.section("spikes", SpikeConfig.KEYS)));
    }

    /**
     * The resolved config as YAML, every default filled in: what a run directory's config.yaml
     * holds. {@code load} of this text gives back an equal RunConfig.
     */
    public String toYaml() {
        ObjectNode root = ConfigYaml.MAPPER.createObjectNode();
        ModelSection.write(model, root.putObject("model"));
        data.write(root.putObject("data"));
        train.write(root.putObject("train"));
        optimizer.write(root.putObject("optimizer"));
        schedule.write(root.putObject("schedule"));
        parallel.write(root.putObject("parallel"));
        if (!faults.isEmpty()) FaultConfig.write(faults, root.putArray("faults"));
        spikes.write(root.putObject("spikes"));
        return "# palm4j run config, resolved: every default filled in (keys: docs/configuration.md)\n"
                + ConfigYaml.write(root);
    }
}
