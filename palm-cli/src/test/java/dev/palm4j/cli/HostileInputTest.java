package dev.palm4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.palm4j.core.kernels.Parallel;
import dev.palm4j.core.tokenizer.Tokenizer;
import dev.palm4j.train.checkpoint.Checkpoints;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * What palm4j refuses, and what it says (docs/cli.md): each bad input gives exit status 2 and one
 * line on stderr, {@code palm: error: <what is wrong> (<what to do>)}, with no stack trace unless
 * {@code --verbose}; and a failing checkpoint write or a damaged checkpoint never costs the
 * previous one. One tiny run (two steps, a checkpoint after each) is trained once for the class.
 */
class HostileInputTest {
    @TempDir static Path shared;
    @TempDir Path dir;

    static Path config, cache, base;

    record Run(int code, String stdout, String stderr) {}

    static Run run(String... args) {
        return runWithInput(new byte[0], args);
    }

    static Run runWithInput(byte[] stdin, String... args) {
        InputStream in = System.in;
        PrintStream out = System.out, err = System.err;
        ByteArrayOutputStream o = new ByteArrayOutputStream(), e = new ByteArrayOutputStream();
        StringWriter picoErr = new StringWriter();
        try {
            System.setIn(new ByteArrayInputStream(stdin));
            System.setOut(new PrintStream(o, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(e, true, StandardCharsets.UTF_8));
            CommandLine cl = Main.newCommandLine();
            cl.setErr(new PrintWriter(picoErr));
            int code = Main.execute(cl, args);
            return new Run(code, o.toString(StandardCharsets.UTF_8), e.toString(StandardCharsets.UTF_8) + picoErr);
        } finally {
            System.setIn(in);
            System.setOut(out);
            System.setErr(err);
        }
    }

    /** palm train on tiny.yaml, fast: the class's data cache, a short warmup, no FMA peak measurement. */
    static Run train(Path configFile, Path runDir, String... more) {
        List<String> args = new ArrayList<>(List.of("train", "--config", configFile.toString(), "--run-dir", runDir.toString(),
                "--set", "data.cache_dir=" + cache, "--set", "schedule.warmup_steps=1", "--peak-gflops", "100"));
        args.addAll(List.of(more));
        return run(args.toArray(String[]::new));
    }

    static Run train(Path runDir, String... more) {
        return train(config, runDir, more);
    }

    @BeforeAll
    static void trainTinyRun() {
        config = Path.of("../configs/tiny.yaml").toAbsolutePath().normalize();
        cache = shared.resolve("cache");
        base = shared.resolve("base");
        Run r = train(base, "--steps", "2", "--set", "train.checkpoint_interval=1");
        assertEquals(0, r.code(), r.stderr());
        assertTrue(Files.isDirectory(base.resolve("checkpoints/step-00000001")), r.stderr());
        assertTrue(Files.isDirectory(base.resolve("checkpoints/step-00000002")), r.stderr());
    }

    /**
     * Exit status 2 and exactly one line on stderr, a "palm: error:" line holding every one of
     * {@code words}, with no exception class or stack frame in it.
     */
    static String refused(Run r, String... words) {
        assertEquals(2, r.code(), r.stderr());
        List<String> lines = r.stderr().lines().toList();
        assertEquals(1, lines.size(), "one line on stderr:\n" + r.stderr());
        return refusedLast(r, words);
    }

    /** Like {@link #refused} where progress lines may come first (a run that fails mid-way). */
    static String refusedLast(Run r, String... words) {
        assertEquals(2, r.code(), r.stderr());
        List<String> lines = r.stderr().lines().toList();
        assertEquals(1, lines.stream().filter(l -> l.startsWith("palm: error:")).count(), r.stderr());
        String line = lines.get(lines.size() - 1);
        assertTrue(line.startsWith("palm: error: "), "the error is the last line:\n" + r.stderr());
        for (String w : words) assertTrue(line.contains(w), "'" + w + "' missing from: " + line);
        assertFalse(r.stderr().contains("Exception"), "no exception class:\n" + r.stderr());
        assertFalse(r.stderr().contains("at dev."), "no stack trace:\n" + r.stderr());
        assertFalse(r.stderr().contains("internal error"), r.stderr());
        return line;
    }

    static void copyTree(Path from, Path to) throws IOException {
        try (Stream<Path> s = Files.walk(from)) {
            for (Path p : s.toList()) {
                Path q = to.resolve(from.relativize(p).toString());
                if (Files.isDirectory(p)) Files.createDirectories(q);
                else Files.copy(p, q);
            }
        }
    }

    /** A copy of the base run's newest checkpoint directory. */
    Path checkpointCopy() throws IOException {
        Path c = dir.resolve("step-00000002");
        copyTree(base.resolve("checkpoints/step-00000002"), c);
        return c;
    }

    static void flipBit(Path file, long fromEnd) throws IOException {
        byte[] b = Files.readAllBytes(file);
        b[(int) (b.length - fromEnd)] ^= 0x10;
        Files.write(file, b);
    }

    /** The prepared dataset the base run trained on, copied. */
    Path preparedCopy() throws IOException {
        Path prepared;
        try (Stream<Path> s = Files.list(cache.resolve("prepared"))) {
            prepared = s.filter(p -> p.getFileName().toString().startsWith("synthetic-384-")).findFirst().orElseThrow();
        }
        Path copy = dir.resolve("data");
        copyTree(prepared, copy);
        return copy;
    }

    static final String CRC_PAIR = ".*state\\.json records crc32c ([0-9a-f]{8}), (\\d+) bytes, the file has crc32c ([0-9a-f]{8}), (\\d+) bytes.*";

    // ------------------------------------------------------------------------------- config

    @Test
    void malformedYaml() throws IOException {
        Path bad = dir.resolve("bad.yaml");
        Files.writeString(bad, "model: {d_model: 64\n  n_layers: [\n");
        refused(train(bad, dir.resolve("run")), "bad.yaml is not valid YAML", "line", "fix the YAML");
    }

    @Test
    void duplicateKey() throws IOException {
        Path bad = dir.resolve("dup.yaml");
        Files.writeString(bad, Files.readString(config).replace("  d_model: 64", "  d_model: 64\n  d_model: 32"));
        refused(train(bad, dir.resolve("run")), "dup.yaml is not valid YAML", "'d_model'");
    }

    @Test
    void unknownKey() throws IOException {
        Path bad = dir.resolve("typo.yaml");
        Files.writeString(bad, Files.readString(config).replace("batch_size:", "batchsize:"));
        refused(train(bad, dir.resolve("run")), "typo.yaml", "unknown key train.batchsize", "did you mean train.batch_size?");
    }

    @Test
    void wrongType() {
        refused(train(dir.resolve("run"), "--set", "model.d_model=abc"),
                "--set model.d_model=abc", "model.d_model = 'abc'", "expected an integer");
    }

    @Test
    void negativeSize() {
        refused(train(dir.resolve("run"), "--set", "model.d_model=-64"), "model.d_model = -64", "must be a positive integer");
    }

    @Test
    void zeroSize() {
        refused(train(dir.resolve("run"), "--set", "train.batch_size=0"), "train.batch_size = 0", "must be at least 1");
    }

    @Test
    void headsNotDividingDModel() {
        refused(train(dir.resolve("run"), "--set", "model.n_heads=3"),
                "model.d_model = 64 is not divisible by model.n_heads = 3", "set model.head_dim");
    }

    @Test
    void meshNotDividingHeads() {
        refused(train(dir.resolve("run"), "--set", "parallel.model=3"),
                "--set parallel.model=3", "parallel.model = 3 does not divide model.n_heads = 4", "divides the number of heads");
    }

    @Test
    void mpiBackendOutsideMpirun() {
        Path run = dir.resolve("run");
        refused(train(run, "--set", "parallel.backend=mpi"), "parallel.backend = mpi", "not started by mpirun",
                "mpirun -np N", "docs/distributed.md");
        assertFalse(Files.exists(run), "nothing written");
    }

    @Test
    void unknownBackend() {
        refused(train(dir.resolve("run"), "--set", "parallel.backend=nccl"), "parallel.backend = 'nccl' is not one of local, mpi");
    }

    @Test
    void deviceFaultOverMpi() throws IOException {
        Path bad = dir.resolve("faults.yaml");
        Files.writeString(bad, Files.readString(config) + "faults:\n  - {device: 1, step: 2, kind: crash}\n");
        refused(train(bad, dir.resolve("run"), "--set", "parallel.data=2", "--set", "parallel.backend=mpi"),
                "faults: a device crash is simulated in one process", "parallel.backend = mpi", "--resume");
    }

    @Test
    void missingConfigFile() {
        refused(train(dir.resolve("nope.yaml"), dir.resolve("run")), "nope.yaml does not exist", "check the path");
    }

    @Test
    void malformedSet() {
        refused(train(dir.resolve("run"), "--set", "train.steps"), "--set 'train.steps' is not key=value", "--set section.key=value");
    }

    // --------------------------------------------------------------------------------- data

    @Test
    void missingCorpus() {
        refused(train(dir.resolve("run"), "--set", "data.source=" + dir.resolve("no-such-corpus.txt")),
                "data.source", "no-such-corpus.txt does not exist", "check the path");
    }

    @Test
    void emptyCorpus() throws IOException {
        Path empty = Files.createFile(dir.resolve("empty.txt"));
        refused(train(dir.resolve("run"), "--set", "data.source=" + empty), "data.source", "empty.txt is empty", "give text");
    }

    @Test
    void shardWithWrongMagic() throws IOException {
        Path data = preparedCopy();
        Path shard = data.resolve("train-00000.bin");
        byte[] b = Files.readAllBytes(shard);
        System.arraycopy("NOTASHRD".getBytes(StandardCharsets.US_ASCII), 0, b, 0, 8);
        Files.write(shard, b);
        refused(train(dir.resolve("run"), "--set", "data.source=" + data, "--steps", "2"),
                "train-00000.bin is not a palm4j token shard", "prepare the data again");
    }

    @Test
    void shardWithWrongVocabInHeader() throws IOException {
        Path data = preparedCopy();
        Path shard = data.resolve("train-00000.bin");
        byte[] b = Files.readAllBytes(shard);
        b[17] = 2; // vocab 384 = 0x180 -> 0x280 = 640 (little-endian at offset 16)
        Files.write(shard, b);
        refused(train(dir.resolve("run"), "--set", "data.source=" + data, "--steps", "2"),
                "train-00000.bin has a corrupt header", "vocab size 640", "dataset.json says 384", "prepare the data again");
    }

    @Test
    void truncatedShard() throws IOException {
        Path data = preparedCopy();
        Path shard = data.resolve("train-00000.bin");
        Files.write(shard, Arrays.copyOf(Files.readAllBytes(shard), 5000));
        refused(train(dir.resolve("run"), "--set", "data.source=" + data, "--steps", "2"),
                "train-00000.bin is truncated", "5000 bytes", "prepare the data again");
    }

    // -------------------------------------------------------------------------------- train

    @Test
    void zeroSteps() {
        refused(train(dir.resolve("run"), "--steps", "0"), "--steps 0 must be at least 1");
    }

    @Test
    void negativeSteps() {
        refused(train(dir.resolve("run"), "--steps", "-5"), "--steps -5 must be at least 1");
    }

    @Test
    void nonEmptyRunDirWithoutResume() {
        refused(train(base, "--steps", "2"), "already exists and is not empty", "--resume");
    }

    @Test
    void resumeOfADirectoryThatIsNotARun() throws IOException {
        Path notRun = Files.createDirectories(dir.resolve("photos"));
        Files.writeString(notRun.resolve("cat.jpg"), "meow");
        refused(train(notRun, "--resume", "--steps", "2"), "is not a palm4j run directory", "without --resume");
    }

    @Test
    void resumeWhenEveryCheckpointIsDamaged() throws IOException {
        Path runDir = dir.resolve("run");
        copyTree(base, runDir);
        flipBit(runDir.resolve("checkpoints/step-00000001/optimizer.safetensors"), 3);
        flipBit(runDir.resolve("checkpoints/step-00000002/model.safetensors"), 3);
        refused(train(runDir, "--resume", "--steps", "3"), "no valid checkpoint in", "step-00000002: ", "step-00000001: ",
                "model.safetensors is corrupt", "optimizer.safetensors is corrupt");
    }

    // ------------------------------------------------------------------------ checkpoints

    @Test
    void nonexistentCheckpoint() {
        refused(run("generate", "--checkpoint", dir.resolve("nowhere").toString(), "--prompt", "The king"),
                "no checkpoint at", "nowhere", "give a checkpoint directory");
    }

    @Test
    void directoryThatIsNotARunDir() throws IOException {
        Path notRun = Files.createDirectories(dir.resolve("photos"));
        Files.writeString(notRun.resolve("cat.jpg"), "meow");
        refused(run("generate", "--checkpoint", notRun.toString(), "--prompt", "The king"), "no checkpoint in", "photos");
    }

    @Test
    void checkpointThatIsAFile() throws IOException {
        Path file = Files.writeString(dir.resolve("model.bin"), "weights");
        refused(run("eval", "--checkpoint", file.toString(), "--text", file.toString()), "model.bin is a file, not a checkpoint");
    }

    @Test
    void truncatedCheckpointFile() throws IOException {
        Path c = checkpointCopy();
        Path model = c.resolve("model.safetensors");
        long size = Files.size(model);
        Files.write(model, Arrays.copyOf(Files.readAllBytes(model), 1000));
        String line = refused(run("generate", "--checkpoint", c.toString(), "--prompt", "The king"),
                model + " is corrupt", size + " bytes", "the file has", "1000 bytes", "the run directory");
        assertTrue(line.matches(CRC_PAIR), line);
    }

    @Test
    void bitFlippedCheckpointFile() throws IOException {
        Path c = checkpointCopy();
        Path model = c.resolve("model.safetensors");
        flipBit(model, 3);
        String line = refused(run("generate", "--checkpoint", c.toString(), "--prompt", "The king"), model + " is corrupt");
        var m = java.util.regex.Pattern.compile(CRC_PAIR).matcher(line);
        assertTrue(m.matches(), line);
        assertFalse(m.group(1).equals(m.group(3)), "expected and found differ: " + line);
        assertEquals(m.group(2), m.group(4), "same length: " + line);
    }

    @Test
    void tokenizerFileFromAnotherRun() throws IOException {
        Path c = checkpointCopy();
        Files.copy(otherTokenizer(), c.resolve("palm-tokenizer.json"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        String line = refused(run("generate", "--checkpoint", c.toString(), "--prompt", "The king"),
                c.resolve("palm-tokenizer.json") + " is corrupt");
        assertTrue(line.matches(CRC_PAIR), line);
    }

    /** The same with state.json's checksum made to match (a hand-assembled checkpoint): the vocabulary gives it away. */
    @Test
    void tokenizerFileFromAnotherRunWithMatchingChecksum() throws IOException {
        Path c = checkpointCopy();
        Path tok = c.resolve("palm-tokenizer.json");
        Files.copy(otherTokenizer(), tok, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        byte[] bytes = Files.readAllBytes(tok);
        CRC32C crc = new CRC32C();
        crc.update(bytes);
        Path state = c.resolve("state.json");
        String fixed = Files.readString(state).replaceAll("(\"palm-tokenizer\\.json\": \\{\\s*\"bytes\": )\\d+(,\\s*\"crc32c\": \")[0-9a-f]{8}",
                "$1" + bytes.length + "$2" + String.format("%08x", crc.getValue()));
        Files.writeString(state, fixed);
        refused(run("generate", "--checkpoint", c.toString(), "--prompt", "The king"),
                "palm-tokenizer.json has 300 tokens but the model's vocab is 384", "saved with this checkpoint");
        refused(run("eval", "--checkpoint", c.toString(), "--text", state.toString()), "has 300 tokens but the model's vocab is 384");
    }

    /** A 300-token tokenizer, as another run with data.vocab_size = 300 would have trained. */
    Path otherTokenizer() throws IOException {
        byte[] text = Files.readAllBytes(cache.resolve("synthetic/01-part.txt"));
        Path f = dir.resolve("other-tokenizer.json");
        try (Parallel par = Parallel.of(1)) {
            Tokenizer.train(List.of(text), new Tokenizer.TrainOptions(300, List.of(), 2), par).save(f);
        }
        assertEquals(300, Tokenizer.load(f).vocabSize());
        return f;
    }

    // ------------------------------------------------------------------------- generation

    @Test
    void promptLongerThanTheContext() {
        refused(run("generate", "--checkpoint", base.toString(), "--prompt", "the word ".repeat(100)),
                "longer than the model's context of 64", "shorten the prompt");
    }

    @Test
    void negativeTemperature() {
        refused(run("generate", "--checkpoint", base.toString(), "--prompt", "The king", "--temperature", "-0.5"),
                "--temperature -0.5 must be a finite number >= 0", "0 is greedy");
    }

    @Test
    void infiniteTemperature() {
        refused(run("generate", "--checkpoint", base.toString(), "--prompt", "The king", "--temperature", "Infinity"),
                "--temperature Infinity must be a finite number >= 0");
    }

    @Test
    void topPZero() {
        refused(run("generate", "--checkpoint", base.toString(), "--prompt", "The king", "--top-p", "0"),
                "--top-p 0.0 must be in (0, 1]", "1 keeps every token");
    }

    @Test
    void topPAboveOne() {
        refused(run("generate", "--checkpoint", base.toString(), "--prompt", "The king", "--top-p", "1.5"),
                "--top-p 1.5 must be in (0, 1]");
    }

    @Test
    void negativeTopK() {
        refused(run("generate", "--checkpoint", base.toString(), "--prompt", "The king", "--top-k", "-1"),
                "--top-k -1 must be >= 0", "0 keeps every token");
    }

    @Test
    void negativeMaxTokens() {
        refused(run("generate", "--checkpoint", base.toString(), "--prompt", "The king", "--max-tokens", "-3"),
                "--max-tokens -3 must be >= 0");
    }

    @Test
    void notANumber() {
        refused(run("generate", "--checkpoint", base.toString(), "--prompt", "The king", "--temperature", "warm"),
                "invalid value for option '--temperature'", "'warm'", "palm generate --help");
    }

    @Test
    void unknownTokenIdsToDecode() {
        Path tok = base.resolve("checkpoints/step-00000002/palm-tokenizer.json");
        refused(runWithInput("72 105 99999".getBytes(StandardCharsets.US_ASCII), "tokenizer", "decode", "--tokenizer", tok.toString()),
                "token id 99999 is out of range", "0 to 383");
    }

    @Test
    void textWithNothingToPredict() throws IOException {
        Path empty = Files.createFile(dir.resolve("empty.txt"));
        refused(run("eval", "--checkpoint", base.toString(), "--text", empty.toString()), "nothing to predict");
    }

    /** Not refused: an empty prompt is the start of a new document, as for train.sample_prompt. */
    @Test
    void emptyPromptStartsANewDocument() {
        Run r = run("generate", "--checkpoint", base.toString(), "--prompt", "", "--temperature", "0", "--max-tokens", "3");
        assertEquals(0, r.code(), r.stderr());
        assertFalse(r.stderr().contains("palm: error"), r.stderr());
    }

    @Test
    void verboseAddsTheStackTrace() {
        Run r = run("--verbose", "train", "--config", config.toString(), "--run-dir", dir.resolve("run").toString(),
                "--set", "model.n_heads=3");
        assertEquals(2, r.code(), r.stderr());
        assertTrue(r.stderr().startsWith("palm: error: --set model.n_heads=3: model.d_model = 64 is not divisible"), r.stderr());
        assertTrue(r.stderr().contains("InputException") && r.stderr().contains("at dev.palm4j."), r.stderr());
    }

    // ---------------------------------------------- failing writes and damaged checkpoints

    /**
     * The disk fills up during the second checkpoint: exit 2 with one clear line, the first
     * checkpoint and 'latest' untouched, and --resume continues from the first checkpoint.
     */
    @Test
    void aCheckpointWriteThatFailsStopsTheRunAndKeepsThePreviousOne() throws IOException {
        Path runDir = dir.resolve("run");
        long one;
        try (Stream<Path> s = Files.walk(base.resolve("checkpoints/step-00000001"))) {
            one = s.filter(Files::isRegularFile).mapToLong(p -> p.toFile().length()).sum();
        }
        Run r;
        System.setProperty(Checkpoints.DISK_BYTES_PROPERTY, Long.toString(one * 3 / 2)); // room for one and a half
        try {
            r = train(runDir, "--steps", "2", "--set", "train.checkpoint_interval=1");
        } finally {
            System.clearProperty(Checkpoints.DISK_BYTES_PROPERTY);
        }
        refusedLast(r, "could not write checkpoint step-00000002", "No space left on device", "unchanged",
                "check free disk space", "--resume");
        assertTrue(r.stderr().contains("checkpoint 1 -> "), r.stderr());
        Path ck = runDir.resolve("checkpoints");
        assertEquals("step-00000001\n", Files.readString(ck.resolve("latest")));
        try (Stream<Path> s = Files.list(ck)) {
            assertEquals(List.of("latest", "step-00000001"), s.map(p -> p.getFileName().toString()).sorted().toList());
        }

        Run resumed = train(runDir, "--resume", "--steps", "2", "--set", "train.checkpoint_interval=1");
        assertEquals(0, resumed.code(), resumed.stderr());
        assertTrue(resumed.stderr().contains("resumed from " + ck.resolve("step-00000001") + " at step 1"), resumed.stderr());
        assertTrue(resumed.stderr().contains("palm: done: step 2"), resumed.stderr());
        assertEquals("step-00000002\n", Files.readString(ck.resolve("latest")));
    }

    /** A run directory's newest checkpoint fails verification: generate says which file and both sums, and uses the one before. */
    @Test
    void generateReportsACorruptCheckpointAndUsesThePreviousOne() throws IOException {
        Path runDir = dir.resolve("run");
        copyTree(base, runDir);
        Path model = runDir.resolve("checkpoints/step-00000002/model.safetensors");
        flipBit(model, 3);
        Run r = run("generate", "--checkpoint", runDir.toString(), "--prompt", "The king", "--temperature", "0", "--max-tokens", "4");
        assertEquals(0, r.code(), r.stderr());
        String warning = r.stderr().lines().filter(l -> l.startsWith("palm: warning: skipped checkpoint step-00000002: ")).findFirst()
                .orElseThrow(() -> new AssertionError(r.stderr()));
        assertTrue(warning.contains(model + " is corrupt") && warning.matches(CRC_PAIR), warning);
        assertTrue(r.stderr().contains("using " + runDir.resolve("checkpoints/step-00000001")), r.stderr());
        assertFalse(r.stdout().isEmpty(), "the continuation still comes");
    }

    /** The same for --resume: the trainer reports the skipped checkpoint and resumes from the one before. */
    @Test
    void resumeReportsACorruptCheckpointAndUsesThePreviousOne() throws IOException {
        Path runDir = dir.resolve("run");
        copyTree(base, runDir);
        Path opt = runDir.resolve("checkpoints/step-00000002/optimizer.safetensors");
        flipBit(opt, 3);
        Run r = train(runDir, "--resume", "--steps", "3");
        assertEquals(0, r.code(), r.stderr());
        String skipped = r.stderr().lines().filter(l -> l.contains("skipped checkpoint: step-00000002: ")).findFirst()
                .orElseThrow(() -> new AssertionError(r.stderr()));
        assertTrue(skipped.contains(opt + " is corrupt") && skipped.matches(CRC_PAIR), skipped);
        assertTrue(r.stderr().contains("resumed from " + runDir.resolve("checkpoints/step-00000001") + " at step 1"), r.stderr());
        assertTrue(r.stderr().contains("palm: done: step 3"), r.stderr());
    }
}
