package dev.palm4j.train.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.palm4j.core.InputException;
import dev.palm4j.core.model.NormKind;
import dev.palm4j.core.model.PalmConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class RunConfigTest {
    /** The smallest valid config: only the keys without defaults. */
    static final String MINIMAL = """
            model: {vocab: 256, d_model: 64, n_layers: 2, n_heads: 4}
            data: {source: random}
            train: {batch_size: 8, seq_len: 32, steps: 100}
            schedule: {lr: 1.0e-3}
            """;

    static RunConfig parse(String yaml, String... sets) {
        return RunConfig.parse(yaml, "test.yaml", List.of(sets));
    }

    /** The message the CLI would print after "palm: error: ". */
    static String error(String yaml, String... sets) {
        return assertThrows(InputException.class, () -> parse(yaml, sets)).getMessage();
    }

    static void assertContains(String message, String... parts) {
        for (String p : parts) assertTrue(message.contains(p), () -> "expected '" + p + "' in: " + message);
    }

    @Test
    void defaultsAreFilledIn() {
        RunConfig c = parse(MINIMAL);
        assertEquals(new PalmConfig(256, 64, 2, 4, 16, 1, 4, NormKind.LAYERNORM, 1e-5f, 10000, 32, 1e-4f), c.model());
        assertEquals(new DataConfig("random", 256, 0.05, 0, List.of(), Path.of("data/cache")), c.data());
        assertEquals(DataConfig.SourceKind.RANDOM, c.data().sourceKind());
        assertEquals(new TrainConfig(8, 32, 100, 1, 0, 20, 0, 3, 0, Runtime.getRuntime().availableProcessors(), 1, 0, "", 64),
                c.train());
        assertEquals(OptimizerConfig.defaults(OptimizerConfig.Kind.ADAMW), c.optimizer());
        assertEquals(new OptimizerConfig(OptimizerConfig.Kind.ADAMW, 0.9, 0.95, 1e-8, 0.1, 1.0), c.optimizer());
        assertEquals(ScheduleConfig.constant(1e-3), c.schedule());
        assertEquals(ParallelConfig.SINGLE, c.parallel());
    }

    @Test
    void kindDependentDefaults() {
        RunConfig c = parse(MINIMAL, "optimizer.kind=adafactor", "schedule.kind=warmup_cosine", "schedule.warmup_steps=10");
        assertEquals(new OptimizerConfig(OptimizerConfig.Kind.ADAFACTOR, 0.9, Double.NaN, 1e-30, Double.NaN, 1.0), c.optimizer());
        // total_steps follows train.steps, min_lr is lr / 10
        assertEquals(new ScheduleConfig(ScheduleConfig.Kind.WARMUP_COSINE, 1e-3, 10, 100, 1e-4, 0), c.schedule());
        c = parse(MINIMAL, "schedule.kind=palm", "train.steps=50000");
        assertEquals(new ScheduleConfig(ScheduleConfig.Kind.PALM, 1e-3, 0, 0, Double.NaN, 10_000), c.schedule());
    }

    @Test
    void vocabAndDataVocabDefaultToEachOther() {
        String text = MINIMAL.replace("vocab: 256, ", "").replace("source: random", "source: kjv, vocab_size: 4096");
        RunConfig c = parse(text);
        assertEquals(4096, c.model().vocab());
        assertEquals(DataConfig.SourceKind.CORPUS, c.data().sourceKind());
        assertEquals(512, parse(MINIMAL, "data.vocab_size=512", "model.vocab=512").data().vocabSize());
        assertContains(error(MINIMAL.replace("vocab: 256, ", "")), "test.yaml: model.vocab is missing", "data.vocab_size");
        assertContains(error(MINIMAL, "data.vocab_size=512"), "data.vocab_size = 512 differs from model.vocab = 256");
    }

    @Test
    void derivedModelDefaults() {
        RunConfig c = parse(MINIMAL, "train.seq_len=128", "model.d_model=96", "model.n_heads=6");
        assertEquals(16, c.model().headDim());
        assertEquals(128, c.model().maxSeqLen());
        assertEquals(10, parse(MINIMAL, "model.n_heads=3", "model.head_dim=10").model().headDim());
        assertContains(error(MINIMAL, "model.n_heads=3"), "--set model.n_heads=3: model.d_model = 64 is not divisible by model.n_heads = 3");
    }

    // ---- unknown keys -------------------------------------------------------------------------

    @Test
    void unknownTopLevelKey() {
        String m = error(MINIMAL + "trian: {steps: 3}\n");
        assertContains(m, "test.yaml: unknown key trian (did you mean train? valid: model, data, train, optimizer, schedule, parallel, faults, spikes)");
    }

    @Test
    void faultsAreCheckedAgainstTheMesh() {
        assertContains(error(MINIMAL + "parallel: {data: 2}\nfaults: [{device: 2, step: 3}]\n"),
                "faults: device 2 does not exist in a mesh of 2 device(s)");
        assertContains(error(MINIMAL + "faults: [{device: 0, step: 3, kind: hang}]\n"), "a hang on a single device cannot be detected");
        assertContains(error(MINIMAL + "parallel: {data: 2}\nfaults: [{device: 0, step: 3, kind: melt}]\n"),
                "faults[0].kind = 'melt' is not one of crash, hang");
        assertContains(error(MINIMAL + "faults: [{device: 0, steps: 3}]\n"), "unknown key faults[0].steps");
        assertContains(error(MINIMAL + "faults: {device: 0}\n"), "faults = ", "expected a list of mappings");
        RunConfig ok = parse(MINIMAL + "parallel: {data: 2}\nfaults: [{device: 1, step: 3, kind: hang}]\n");
        assertEquals(List.of(new FaultConfig(1, 3, FaultConfig.Kind.HANG)), ok.faults());
        assertEquals(ok, RunConfig.parse(ok.toYaml(), "resolved", List.of()), "faults survive config.yaml");
    }

    @Test
    void linkAndTimeoutKeysAreValidated() {
        assertContains(error(MINIMAL + "parallel: {timeout_s: 0}\n"), "parallel.timeout_s");
        assertContains(error(MINIMAL + "parallel: {data_link: {gb_per_s: -1}}\n"), "parallel.data_link.gb_per_s");
        assertContains(error(MINIMAL + "parallel: {model_link: {latency: 1}}\n"), "unknown key parallel.model_link.latency");
    }

    @ParameterizedTest
    @ValueSource(strings = {"model", "data", "train", "optimizer", "schedule", "parallel"})
    void unknownKeyInEverySection(String section) {
        String m = error(MINIMAL, section + ".bogus=1");
        assertContains(m, "--set " + section + ".bogus=1: unknown key " + section + ".bogus (valid: ");
    }

    @Test
    void unknownKeyNamesTheFullKeyAndListsTheValidOnes() {
        String m = error(MINIMAL.replace("batch_size", "batchsize"));
        assertContains(m, "test.yaml: unknown key train.batchsize (did you mean train.batch_size? valid: batch_size, seq_len, steps,",
                "sample_tokens)");
        assertContains(error(MINIMAL, "model.n_layerz=2"), "--set model.n_layerz=2: unknown key model.n_layerz", "valid: vocab, d_model");
    }

    @Test
    void keyOfAnotherKindIsAnError() {
        assertContains(error(MINIMAL + "optimizer: {kind: adafactor, beta2: 0.99}\n"),
                "test.yaml: optimizer.beta2 does not apply to optimizer.kind = adafactor (keys for it: kind, beta1, eps, grad_clip;");
        assertContains(error(MINIMAL, "schedule.min_lr=1e-5"), "--set schedule.min_lr=1e-5: schedule.min_lr does not apply to schedule.kind = constant");
        // null removes a key again, e.g. when --set switches the kind
        String cosine = MINIMAL.replace("{lr: 1.0e-3}", "{kind: warmup_cosine, lr: 1.0e-3, min_lr: 0}");
        assertEquals(ScheduleConfig.constant(1e-3), parse(cosine, "schedule.kind=constant", "schedule.min_lr=null").schedule());
    }

    // ---- wrong types --------------------------------------------------------------------------

    @Test
    void wrongTypesNameKeyValueAndExpectedType() {
        assertContains(error(MINIMAL.replace("steps: 100", "steps: many")), "test.yaml: train.steps = 'many' is a string, expected an integer");
        assertContains(error(MINIMAL.replace("steps: 100", "steps: 1.5")), "train.steps = 1.5 is not a whole number");
        assertContains(error(MINIMAL.replace("steps: 100", "steps: 1e10")), "train.steps = 1.0E10 is out of range");
        assertContains(error(MINIMAL.replace("steps: 100", "steps: [1]")), "train.steps = [1] is a list, expected an integer");
        assertContains(error(MINIMAL, "schedule.lr=fast"), "--set schedule.lr=fast: schedule.lr = 'fast' is a string, expected a number");
        assertContains(error(MINIMAL, "parallel.shard_optimizer=3"), "parallel.shard_optimizer = 3 is an integer, expected true or false");
        assertContains(error(MINIMAL, "data.specials=3"), "data.specials = 3 is an integer, expected a list of strings");
        assertContains(error(MINIMAL, "model.norm=batchnorm"), "model.norm = 'batchnorm' is not one of layernorm, rmsnorm");
        assertContains(error(MINIMAL, "optimizer.kind=sgd"), "optimizer.kind = 'sgd' is not one of adamw, adafactor");
        assertContains(error(MINIMAL.replace("train: {batch_size: 8, seq_len: 32, steps: 100}", "train: 5")), "test.yaml: train = 5 is an integer, not a section of keys");
        assertContains(error(MINIMAL.replace("{vocab: 256, d_model: 64,", "{vocab: 256, d_model: {x: 1},")),
                "model.d_model = {\"x\":1} is a mapping, expected an integer");
        // 1e4 is a float in YAML but a whole number: fine where an integer is expected
        assertEquals(10_000, parse(MINIMAL.replace("steps: 100", "steps: 1e4")).train().steps());
    }

    // ---- rules --------------------------------------------------------------------------------

    @Test
    void ruleViolationsNameKeyValueAndRule() {
        assertContains(error(MINIMAL.replace("batch_size: 8", "batch_size: 0")), "test.yaml: train.batch_size = 0 must be at least 1");
        assertContains(error(MINIMAL, "optimizer.beta2=1"), "optimizer.beta2 = 1.0 must be in [0.0, 1.0)");
        assertContains(error(MINIMAL, "data.val_fraction=1.5"), "data.val_fraction = 1.5 must be in [0.0, 1.0)");
        assertContains(error(MINIMAL, "schedule.lr=0"), "schedule.lr = 0.0 must be a positive number");
        assertContains(error(MINIMAL, "schedule.kind=warmup_cosine", "schedule.min_lr=0.1"), "schedule.min_lr = 0.1 must be in [0.0, 0.001]");
        assertContains(error(MINIMAL, "schedule.kind=warmup_cosine", "schedule.warmup_steps=500"),
                "schedule.warmup_steps = 500 exceeds schedule.total_steps = 100");
        assertContains(error(MINIMAL, "model.n_kv_heads=3"), "model.n_kv_heads = 3 does not divide model.n_heads = 4");
        assertContains(error(MINIMAL, "model.d_model=66", "model.n_heads=2", "model.head_dim=33"), "model.head_dim = 33 is odd");
        assertContains(error(MINIMAL, "model.max_seq_len=16"), "--set model.max_seq_len=16: model.max_seq_len = 16 is shorter than train.seq_len = 32");
        assertContains(error(MINIMAL, "train.grad_accum=3"), "train.batch_size = 8 is not divisible by train.grad_accum = 3");
        assertContains(error(MINIMAL, "parallel.data=3"), "train.batch_size = 8 is not divisible by train.grad_accum x parallel.data = 1 x 3");
        assertContains(error(MINIMAL, "parallel.model=3"), "parallel.model = 3 does not divide model.n_heads = 4");
        assertContains(error(MINIMAL, "data.source=''"), "data.source is empty");
        assertContains(error(MINIMAL.replace("steps: 100", "")), "test.yaml: train.steps is missing");
        // a valid mesh and accumulation
        RunConfig c = parse(MINIMAL, "parallel.data=2", "parallel.model=2", "train.grad_accum=2");
        assertEquals(4, c.parallel().devices());
        assertEquals(4, c.train().microBatch());
    }

    // ---- --set --------------------------------------------------------------------------------

    @Test
    void setOverridesBeforeValidation() {
        RunConfig c = parse(MINIMAL.replace("batch_size: 8", "batch_size: 0"), // invalid in the file, fixed by --set
                "train.batch_size=16", "model.n_layers=3", "schedule.lr=3e-4", "data.source=kjv",
                "train.sample_prompt=In the beginning: God", "parallel.shard_optimizer=true", "data.specials=[<user>, <bot>]",
                "train.seed=-7", "optimizer.kind=adafactor", "model.norm_eps=1e-6", "model.n_layers=4");
        assertEquals(16, c.train().batchSize());
        assertEquals(4, c.model().nLayers()); // the last --set of a key wins
        assertEquals(3e-4, c.schedule().lr());
        assertEquals("kjv", c.data().source());
        assertEquals("In the beginning: God", c.train().samplePrompt());
        assertTrue(c.parallel().shardOptimizer());
        assertEquals(List.of("<user>", "<bot>"), c.data().specials());
        assertEquals(-7, c.train().seed());
        assertEquals(OptimizerConfig.Kind.ADAFACTOR, c.optimizer().kind()); // a section the file lacks
        assertEquals(1e-6f, c.model().normEps());
        assertEquals("007", parse(MINIMAL, "train.sample_prompt='007'").train().samplePrompt());
        assertEquals(20, parse(MINIMAL.replace("steps: 100", "steps: 100, eval_batches: 5"), "train.eval_batches=~").train().evalBatches());
    }

    @Test
    void badSetSyntax() {
        assertContains(error(MINIMAL, "train.steps"), "--set 'train.steps' is not key=value (write --set section.key=value, e.g. --set model.n_layers=2)");
        assertContains(error(MINIMAL, "steps=5"), "--set 'steps=5' does not name a key inside a section");
        assertContains(error(MINIMAL, "train..steps=5"), "--set 'train..steps=5' has an empty part in its key 'train..steps'");
        assertContains(error(MINIMAL, ".steps=5"), "has an empty part");
        assertContains(error(MINIMAL, "train.steps.max=5"), "--set 'train.steps.max=5' goes inside train.steps, which is a value, not a section");
        assertContains(error(MINIMAL, "trian.steps=5"), "--set trian.steps=5: unknown key trian (did you mean train?");
    }

    // ---- files --------------------------------------------------------------------------------

    @Test
    void fileErrors(@TempDir Path dir) throws IOException {
        Path missing = dir.resolve("nope.yaml");
        assertContains(assertThrows(InputException.class, () -> RunConfig.load(missing)).getMessage(),
                "config file " + missing + " does not exist");
        assertContains(assertThrows(InputException.class, () -> RunConfig.load(dir)).getMessage(), "config " + dir + " is a directory");
        Path bad = Files.writeString(dir.resolve("bad.yaml"), "model: {vocab: [256\ntrain: 3\n");
        assertContains(assertThrows(InputException.class, () -> RunConfig.load(bad)).getMessage(),
                "config " + bad + " is not valid YAML: ", "at line", "(fix the YAML there");
        Path text = Files.writeString(dir.resolve("text.yaml"), "just some words\n");
        assertContains(assertThrows(InputException.class, () -> RunConfig.load(text)).getMessage(),
                "config " + text + " is not a YAML mapping of sections (it is 'just some words')");
        Path empty = Files.writeString(dir.resolve("empty.yaml"), "# nothing\n");
        assertContains(assertThrows(InputException.class, () -> RunConfig.load(empty)).getMessage(), "config " + empty + " is empty");
        Path binary = Files.write(dir.resolve("model.bin"), new byte[] {(byte) 0xff, (byte) 0xfe, 0, 1, (byte) 0xc3});
        assertContains(assertThrows(InputException.class, () -> RunConfig.load(binary)).getMessage(),
                "config " + binary + " is not YAML: it is not UTF-8 text");
        Path dup = Files.writeString(dir.resolve("dup.yaml"), MINIMAL + "train: {steps: 5}\n");
        assertContains(assertThrows(InputException.class, () -> RunConfig.load(dup)).getMessage(), "is not valid YAML", "'train'");
        Path ok = Files.writeString(dir.resolve("ok.yaml"), MINIMAL);
        assertEquals(200, RunConfig.load(ok, List.of("train.steps=200")).train().steps());
    }

    // ---- toYaml -------------------------------------------------------------------------------

    @Test
    void toYamlRoundTrips() {
        RunConfig[] configs = {
            parse(MINIMAL),
            parse(MINIMAL, "optimizer.kind=adafactor", "schedule.kind=palm", "schedule.constant_steps=7", "model.norm=rmsnorm",
                    "model.n_kv_heads=2", "model.rope_base=500000", "model.z_loss=0", "parallel.shard_optimizer=true"),
            parse(MINIMAL, "schedule.kind=warmup_cosine", "schedule.warmup_steps=10", "schedule.min_lr=1.234567890123e-7",
                    "optimizer.eps=1e-12", "data.specials=[yes, '007', 'a: b', '#x', '', ~x, ' pad ']".replace(", ''", ""),
                    "train.sample_prompt=null", "data.cache_dir=/tmp/some dir/cache", "data.source=texts/**.txt"),
            parse(MINIMAL, "train.sample_prompt='yes'", "data.source='2024'", "train.seed=9007199254740993"),
            parse(MINIMAL, "train.sample_prompt=\"Line one\\nline two: \\\"quoted\\\" \\u00e9\\t\""),
        };
        for (RunConfig c : configs) {
            String yaml = c.toYaml();
            assertEquals(c, RunConfig.parse(yaml, "resolved", List.of()), yaml);
            assertTrue(yaml.startsWith("# palm4j run config"), yaml);
        }
        assertEquals("Line one\nline two: \"quoted\" \u00e9\t", configs[4].train().samplePrompt());
        assertEquals("yes", configs[3].train().samplePrompt());
        assertEquals(9007199254740993L, configs[3].train().seed());
    }

    @Test
    void toYamlWritesEveryResolvedKeyAndOnlyThoseOfTheKind() {
        String yaml = parse(MINIMAL).toYaml();
        for (String key : List.of("head_dim: 16", "max_seq_len: 32", "n_kv_heads: 1", "norm: layernorm", "vocab_size: 256",
                "cache_dir: data/cache", "threads: ", "kind: adamw", "beta2: 0.95", "grad_clip: 1.0", "kind: constant",
                "shard_optimizer: false", "specials: []"))
            assertContains(yaml, key);
        assertTrue(!yaml.contains("min_lr") && !yaml.contains("total_steps") && !yaml.contains("constant_steps"), yaml);
    }
}
