package dev.palm4j.train.checkpoint;

import dev.palm4j.core.InputException;
import dev.palm4j.core.io.Json;
import dev.palm4j.core.io.ModelWeights;
import dev.palm4j.core.io.Safetensors;
import dev.palm4j.core.io.SafetensorsFile;
import dev.palm4j.core.kernels.Simd;
import dev.palm4j.core.model.ParamLayout;
import dev.palm4j.train.checkpoint.CheckpointState.FileSum;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Run checkpoints (DESIGN.md; layout and fields in docs/checkpoints.md):
 *
 * <pre>
 *   RUN/checkpoints/step-00001000/{model.safetensors, optimizer.safetensors, palm-tokenizer.json, state.json}
 *   RUN/checkpoints/latest          "step-00001000\n": the newest complete checkpoint
 * </pre>
 *
 * <p>A save writes every file into a hidden temporary directory beside the real one, forces each
 * to disk, then renames the directory to its real name in one step and replaces {@code latest}
 * the same way. A crash or an I/O error at any point leaves the earlier checkpoints and
 * {@code latest} as they were; the debris (hidden {@code .tmp-*} directories) is ignored by
 * loads and removed by the next save. {@code state.json}, written last, holds a CRC32C of every
 * other file, and loads check them.
 *
 * <p>Test hooks, for crash tests: the system property {@value #DELAY_PROPERTY} (milliseconds)
 * makes a save sleep after each durable step (each file written, the directory renamed,
 * {@code latest} replaced), so a test can {@code kill -9} a training process in the middle of a
 * save; {@link #testHook}, package-private, is called at the same points in-process (throw from
 * it to simulate a failure there); {@value #DISK_BYTES_PROPERTY} makes {@code checkpoints/}
 * behave like a disk of that many bytes, so a write past them fails mid-file as on a full disk.
 */
public final class Checkpoints {
    private Checkpoints() {}

    public static final String DIR = "checkpoints", LATEST = "latest";
    public static final String MODEL = "model.safetensors", OPTIMIZER = "optimizer.safetensors",
            TOKENIZER = "palm-tokenizer.json", STATE = "state.json";

    /** Milliseconds to sleep after each durable step of a save (crash tests only). */
    public static final String DELAY_PROPERTY = "palm4j.checkpoint.testDelayMs";

    /**
     * Bytes the {@code checkpoints/} directory may hold (tests only): a checkpoint file write that
     * would take it past them writes what fits and fails with "No space left on device", as a
     * full disk does. Unset (the default): no limit but the disk's.
     */
    public static final String DISK_BYTES_PROPERTY = "palm4j.checkpoint.testDiskBytes";

    /** Called after each durable step of a save with the path just made durable (tests only). */
    interface Hook {
        void after(Path durable) throws IOException;
    }

    static volatile Hook testHook;

    private static final Pattern STEP_DIR = Pattern.compile("step-(\\d{8,19})");
    /** Hidden debris of an interrupted save or delete; never a checkpoint. */
    private static final String TMP = ".tmp-", TRASH = ".trash-";
    private static final String NOT_WRITTEN_HINT = "the previous checkpoints and 'latest' are unchanged;"
            + " check free disk space and that the run directory is writable, then --resume continues from the previous checkpoint";

    /** What a save did: the new directory, the checkpoints retention deleted, and anything worth a warning. */
    public record Saved(Path dir, List<Path> deleted, List<String> warnings) {}

    /**
     * A loaded checkpoint and where it came from. {@code tokenizer} is the checkpoint's
     * {@code palm-tokenizer.json} or null; {@code skipped} says which newer checkpoints were
     * passed over and why (a run directory's load falls back past damaged ones).
     */
    public record Loaded(Path dir, Checkpoint checkpoint, CheckpointState state, Path tokenizer, List<String> skipped) {}

    /** {@code step-00001000}: zero-padded so names sort by step. */
    public static String dirName(long step) {
        return String.format("step-%08d", step);
    }

    // ----------------------------------------------------------------------------------- save

    /**
     * Writes {@code c} as {@code runDir/checkpoints/step-N}, points {@code latest} at it and applies
     * {@code retention}. {@code tokenizer} (nullable) is copied in. Replacing an existing
     * checkpoint of the same step is allowed (after a rollback, say).
     *
     * @throws InputException when anything fails; the earlier checkpoints and {@code latest} are
     *         then untouched and the partial directory is removed
     */
    public static Saved save(Path runDir, Checkpoint c, Path tokenizer, Retention retention) {
        ParamLayout layout = new ParamLayout(c.config());
        if (c.params().length != layout.size())
            throw new IllegalArgumentException(c.params().length + " params for a model of " + layout.size() + " (gather shards first)");
        c.optimizer().forEach((k, v) -> {
            if (k.isEmpty() || v.length != layout.size())
                throw new IllegalArgumentException("optimizer state '" + k + "' must be a full parameter-sized array");
        });
        if (tokenizer != null && !Files.isRegularFile(tokenizer))
            throw new InputException("tokenizer " + tokenizer + " does not exist", "train or give the tokenizer file first");

        Path dir = runDir.resolve(DIR);
        String name = dirName(c.step());
        Path target = dir.resolve(name);
        Path tmp = dir.resolve(TMP + name + "-" + ProcessHandle.current().pid());
        try {
            if (!Files.isDirectory(dir)) {
                Files.createDirectories(dir);
                DurableFiles.forceDirectory(runDir);
            }
            cleanDebris(dir);
            Files.createDirectory(tmp);
            Map<String, FileSum> sums = new LinkedHashMap<>();
            writeFile(tmp, MODEL, out -> ModelWeights.write(out, c.config(), c.params()), sums);
            writeFile(tmp, OPTIMIZER, out -> writeOptimizer(out, c, layout), sums);
            if (tokenizer != null) writeFile(tmp, TOKENIZER, DurableFiles.copyOf(tokenizer), sums);
            CheckpointState state = new CheckpointState(c.step(), c.dataPosition(), c.rng(), Simd.bits(),
                    Runtime.version().toString(), Instant.now().toString(), c.config(), c.metrics(), c.trainState(), sums);
            writeFile(tmp, STATE, DurableFiles.bytes(state.toBytes()), new LinkedHashMap<>()); // last: it sums the others
            DurableFiles.forceDirectory(tmp);
            Path aside = null;
            if (Files.exists(target)) { // same step again: move the old one aside first (a directory cannot be renamed over)
                aside = dir.resolve(TRASH + name + "-" + System.nanoTime());
                DurableFiles.rename(target, aside);
            }
            try {
                DurableFiles.rename(tmp, target);
            } catch (IOException e) {
                if (aside != null) DurableFiles.rename(aside, target);
                throw e;
            }
            DurableFiles.forceDirectory(dir);
            durable(target);
        } catch (IOException | RuntimeException e) {
            try {
                DurableFiles.deleteTree(tmp);
            } catch (IOException cleanup) {
                e.addSuppressed(cleanup);
            }
            throw new InputException("could not write checkpoint " + name + " in " + dir + ": " + describe(e), NOT_WRITTEN_HINT, e);
        }
        try {
            writeLatest(dir, name);
        } catch (IOException | RuntimeException e) {
            throw new InputException("checkpoint " + target + " was written but 'latest' could not be updated: " + describe(e),
                    "'latest' still names the previous checkpoint; check free disk space", e);
        }
        List<String> warnings = new ArrayList<>();
        List<Path> deleted = applyRetention(dir, retention, warnings);
        cleanDebrisQuietly(dir, warnings);
        return new Saved(target, deleted, warnings);
    }

    private static void writeOptimizer(java.nio.channels.WritableByteChannel out, Checkpoint c, ParamLayout layout) throws IOException {
        List<Safetensors.Tensor> tensors = new ArrayList<>();
        for (Map.Entry<String, float[]> e : c.optimizer().entrySet())
            tensors.addAll(ModelWeights.tensors(layout, e.getValue(), "." + e.getKey()));
        Map<String, String> meta = new LinkedHashMap<>(ModelWeights.metadata(c.config()));
        meta.put("states", Json.write(List.copyOf(c.optimizer().keySet())));
        Safetensors.write(out, meta, tensors);
    }

    /** Replaces {@code latest} atomically: write a temporary file, force it, rename over, force the directory. */
    private static void writeLatest(Path dir, String name) throws IOException {
        Path tmp = dir.resolve(TMP + LATEST + "-" + ProcessHandle.current().pid());
        Files.deleteIfExists(tmp);
        byte[] text = (name + "\n").getBytes(StandardCharsets.US_ASCII);
        DurableFiles.write(tmp, DurableFiles.bytes(text), room(dir));
        DurableFiles.rename(tmp, dir.resolve(LATEST));
        DurableFiles.forceDirectory(dir);
        durable(dir.resolve(LATEST));
    }

    /** Writes {@code dir/name} durably and records its sum. */
    private static void writeFile(Path dir, String name, DurableFiles.Body body, Map<String, FileSum> sums) throws IOException {
        sums.put(name, DurableFiles.write(dir.resolve(name), body, room(dir.getParent())));
        durable(dir.resolve(name));
    }

    /** Bytes a write into {@code checkpointsDir} may still take: unlimited unless {@value #DISK_BYTES_PROPERTY} is set. */
    private static long room(Path checkpointsDir) throws IOException {
        String limit = System.getProperty(DISK_BYTES_PROPERTY);
        if (limit == null || limit.isBlank()) return Long.MAX_VALUE;
        return Math.max(0, Long.parseLong(limit.trim()) - DurableFiles.treeBytes(checkpointsDir));
    }

    /** The test hooks (see the class comment), run after each durable step. */
    private static void durable(Path path) throws IOException {
        String delay = System.getProperty(DELAY_PROPERTY);
        if (delay != null && !delay.isBlank()) {
            try {
                Thread.sleep(Long.parseLong(delay.trim()));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new InterruptedIOException("interrupted while saving a checkpoint");
            }
        }
        Hook h = testHook;
        if (h != null) h.after(path);
    }

    /** What went wrong, in words: an I/O error's own message ("No space left on device"), a file error's path and kind. */
    private static String describe(Throwable e) {
        if (e instanceof InputException ie) return ie.problem();
        if (e instanceof NoSuchFileException f) return "no such file: " + f.getFile();
        if (e instanceof FileAlreadyExistsException f) return f.getFile() + " already exists";
        if (e instanceof AccessDeniedException f) return "permission denied: " + f.getFile();
        String m = e.getMessage();
        if (e instanceof IOException && m != null && !m.isBlank()) return m;
        return e.getClass().getSimpleName() + (m == null ? "" : ": " + m);
    }

    // ------------------------------------------------------------------------------ retention

    private static List<Path> applyRetention(Path dir, Retention r, List<String> warnings) {
        List<Path> all;
        try {
            all = stepDirs(dir);
        } catch (IOException e) {
            warnings.add("could not list " + dir + " to delete old checkpoints: " + describe(e));
            return List.of();
        }
        Set<Path> keep = new HashSet<>(all.subList(Math.max(0, all.size() - Math.min(r.keepLast(), all.size())), all.size()));
        Path latest = readLatest(dir);
        if (latest != null) keep.add(latest);
        if (r.bestMetric() != null) {
            Path best = null;
            double bestValue = Double.POSITIVE_INFINITY;
            for (Path p : all) {
                try {
                    Double v = CheckpointState.read(p.resolve(STATE)).metrics().get(r.bestMetric());
                    if (v != null && v < bestValue) {
                        bestValue = v;
                        best = p;
                    }
                } catch (IOException | RuntimeException unreadable) {
                    // a damaged checkpoint is never the best
                }
            }
            if (best != null) keep.add(best);
        }
        List<Path> deleted = new ArrayList<>();
        for (Path p : all) {
            if (keep.contains(p)) continue;
            try { // rename first, so a crash mid-delete never leaves a half-deleted directory under a real name
                Path trash = dir.resolve(TRASH + p.getFileName() + "-" + System.nanoTime());
                DurableFiles.rename(p, trash);
                DurableFiles.deleteTree(trash);
                deleted.add(p);
            } catch (IOException e) {
                warnings.add("could not delete old checkpoint " + p + ": " + describe(e));
            }
        }
        return deleted;
    }

    private static void cleanDebris(Path dir) throws IOException {
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, p -> isDebris(p.getFileName().toString()))) {
            for (Path p : ds) DurableFiles.deleteTree(p);
        }
    }

    private static void cleanDebrisQuietly(Path dir, List<String> warnings) {
        try {
            cleanDebris(dir);
        } catch (IOException e) {
            warnings.add("could not remove leftovers in " + dir + ": " + describe(e));
        }
    }

    private static boolean isDebris(String name) {
        return name.startsWith(TMP) || name.startsWith(TRASH);
    }

    // ----------------------------------------------------------------------------------- load

    /**
     * Loads everything for {@code --resume}. {@code path} is a checkpoint directory (loaded, or
     * an error if damaged), or a run directory (or its {@code checkpoints/}): then the checkpoint
     * {@code latest} names, falling back to the newest one that verifies.
     */
    public static Loaded load(Path path) throws IOException {
        return load(path, true);
    }

    /** Like {@link #load} without the optimizer state (generation, evaluation, {@code --init-from}). */
    public static Loaded loadModel(Path path) throws IOException {
        return load(path, false);
    }

    /** The step a checkpoint directory's name says ({@code step-00000120} is 120). */
    public static long step(Path checkpointDir) {
        return stepOf(checkpointDir);
    }

    /**
     * Deletes the checkpoints after {@code step} (a rollback abandons them: a later --resume must
     * not pick them) and points {@code latest} at the newest one left.
     */
    public static void discardAfter(Path runDir, long step) throws IOException {
        Path dir = runDir.resolve(DIR);
        if (!Files.isDirectory(dir)) return;
        List<Path> all = stepDirs(dir);
        Path keep = null;
        for (Path p : all) {
            if (stepOf(p) <= step) keep = p;
        }
        if (keep != null) writeLatest(dir, keep.getFileName().toString());
        else Files.deleteIfExists(dir.resolve(LATEST));
        for (Path p : all) if (stepOf(p) > step) DurableFiles.deleteTree(p);
    }

    /** Checkpoint directories of a run directory (or its {@code checkpoints/}), oldest first; not verified. */
    public static List<Path> list(Path runDir) throws IOException {
        Path dir = Files.isDirectory(runDir.resolve(DIR)) ? runDir.resolve(DIR) : runDir;
        return Files.isDirectory(dir) ? stepDirs(dir) : List.of();
    }

    private static Loaded load(Path path, boolean optimizer) throws IOException {
        if (!Files.exists(path))
            throw new InputException("no checkpoint at " + path, "give a checkpoint directory, RUN/checkpoints/step-N, or a run directory");
        if (!Files.isDirectory(path))
            throw new InputException(path + " is a file, not a checkpoint", "give a checkpoint directory, RUN/checkpoints/step-N, or a run directory");
        Path leaf = path.getFileName();
        if (Files.isRegularFile(path.resolve(STATE)) || leaf != null && STEP_DIR.matcher(leaf.toString()).matches())
            return loadDir(path, optimizer, List.of());
        Path dir = Files.isDirectory(path.resolve(DIR)) ? path.resolve(DIR) : path;
        List<Path> candidates = candidates(dir);
        if (candidates.isEmpty())
            throw new InputException("no checkpoint in " + path, "a run directory holds checkpoints/step-N/ once training saved one");
        List<String> skipped = new ArrayList<>();
        for (Path c : candidates) {
            try {
                return loadDir(c, optimizer, skipped);
            } catch (InputException | IOException e) {
                skipped.add(c.getFileName() + ": " + describe(e));
            }
        }
        throw new InputException("no valid checkpoint in " + path + ": " + String.join("; ", skipped),
                "every checkpoint failed verification; the run cannot be resumed from it");
    }

    /** {@code latest}'s checkpoint first, then every other by step, newest first. */
    private static List<Path> candidates(Path dir) throws IOException {
        Set<Path> order = new LinkedHashSet<>();
        Path latest = readLatest(dir);
        if (latest != null && Files.isDirectory(latest)) order.add(latest);
        List<Path> all = stepDirs(dir);
        for (int i = all.size() - 1; i >= 0; i--) order.add(all.get(i));
        return new ArrayList<>(order);
    }

    /** The directory {@code latest} names, or null when it is missing or does not name a checkpoint. */
    private static Path readLatest(Path dir) {
        try {
            String name = Files.readString(dir.resolve(LATEST), StandardCharsets.US_ASCII).trim();
            return STEP_DIR.matcher(name).matches() ? dir.resolve(name) : null;
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    private static List<Path> stepDirs(Path dir) throws IOException {
        List<Path> out = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
            for (Path p : ds) if (STEP_DIR.matcher(p.getFileName().toString()).matches() && Files.isDirectory(p)) out.add(p);
        }
        out.sort(Comparator.comparingLong(Checkpoints::stepOf));
        return out;
    }

    private static long stepOf(Path p) {
        Matcher m = STEP_DIR.matcher(p.getFileName().toString());
        if (!m.matches()) throw new IllegalArgumentException(p.toString());
        try {
            return Long.parseLong(m.group(1));
        } catch (NumberFormatException e) {
            return Long.MAX_VALUE;
        }
    }

    private static Loaded loadDir(Path dir, boolean withOptimizer, List<String> skipped) throws IOException {
        CheckpointState state = CheckpointState.read(dir.resolve(STATE));
        List<String> needed = new ArrayList<>(List.of(MODEL));
        if (withOptimizer) needed.add(OPTIMIZER);
        for (String f : needed)
            if (!state.files().containsKey(f)) throw new InputException(dir.resolve(STATE) + " lists no " + f, "the checkpoint is incomplete");
        if (state.files().containsKey(TOKENIZER)) needed.add(TOKENIZER);
        for (String f : needed) verify(dir, f, state.files().get(f));

        ModelWeights.Loaded model = ModelWeights.load(dir.resolve(MODEL));
        if (!model.config().equals(state.config()))
            throw new InputException(dir + ": the config in " + MODEL + " differs from the one in " + STATE, "the checkpoint is inconsistent");
        Map<String, float[]> opt = withOptimizer ? readOptimizer(dir.resolve(OPTIMIZER), new ParamLayout(state.config())) : Map.of();
        Checkpoint c = new Checkpoint(state.config(), model.params(), opt, state.step(), state.dataPosition(), state.rng(),
                state.train(), state.metrics());
        Path tok = state.files().containsKey(TOKENIZER) ? dir.resolve(TOKENIZER) : null;
        return new Loaded(dir, c, state, tok, List.copyOf(skipped));
    }

    /** Recomputes a file's CRC32C and compares it with state.json's record. */
    private static void verify(Path dir, String name, FileSum want) throws IOException {
        Path f = dir.resolve(name);
        if (!Files.isRegularFile(f)) throw new InputException(f + " is missing", "the checkpoint is incomplete");
        FileSum got = DurableFiles.sum(f);
        if (!got.equals(want))
            throw new InputException(f + " is corrupt: state.json records " + want + ", the file has " + got,
                    "it changed after it was written, by a disk error or an edit;"
                            + " give the run directory to load its newest checkpoint that verifies, or an earlier step-N");
    }

    private static Map<String, float[]> readOptimizer(Path file, ParamLayout layout) throws IOException {
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            String states = f.metadata().get("states");
            if (states == null) throw new InputException(file + " has no \"states\" in its __metadata__", "the checkpoint is damaged");
            List<String> names = new ArrayList<>();
            Object parsed = Json.parse(states.getBytes(StandardCharsets.UTF_8), file + " __metadata__ states");
            if (!(parsed instanceof List<?> list)) throw new InputException(file + ": __metadata__ states is not a JSON array", null);
            for (Object o : list) {
                if (!(o instanceof String s)) throw new InputException(file + ": __metadata__ states must hold names", null);
                names.add(s);
            }
            Map<String, float[]> out = new LinkedHashMap<>();
            Set<String> suffixes = new HashSet<>();
            for (String s : names) {
                float[] a = new float[layout.size()];
                ModelWeights.readInto(f, layout, a, "." + s);
                out.put(s, a);
                suffixes.add("." + s);
            }
            ModelWeights.requireNoOthers(f, layout, suffixes);
            return out;
        }
    }
}
