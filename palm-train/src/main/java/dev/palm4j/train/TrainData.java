package dev.palm4j.train;

import dev.palm4j.core.InputException;
import dev.palm4j.core.kernels.Parallel;
import dev.palm4j.train.config.DataConfig;
import dev.palm4j.train.config.RunConfig;
import dev.palm4j.train.data.BatchSource;
import dev.palm4j.train.data.DataCache;
import dev.palm4j.train.data.Prepare;
import dev.palm4j.train.data.RandomTokens;
import dev.palm4j.train.data.ShardLoader;
import dev.palm4j.train.data.ShardSet;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Consumer;

/**
 * The batches a run trains and evaluates on, from its {@code data:} section: random tokens, a
 * prepared shard directory, or text (a named corpus, a file, a directory, a glob) tokenized and
 * sharded on first use and cached, so one command goes from text to model.
 *
 * @param train     training batches of {@code batch_size x (seq_len + 1)}
 * @param val       validation batches, or null (random data has no validation split)
 * @param tokenizer the tokenizer file the shards were made with, or null for random data
 */
record TrainData(BatchSource train, ShardLoader val, Path tokenizer) {

    static TrainData open(RunConfig cfg, Parallel par, Consumer<String> log) {
        DataConfig d = cfg.data();
        int B = cfg.train().batchSize(), T = cfg.train().seqLen();
        long seed = cfg.train().seed();
        if (d.sourceKind() == DataConfig.SourceKind.RANDOM)
            return new TrainData(new RandomTokens(cfg.model().vocab(), B, T, seed), null, null);
        Path dir = Path.of(d.source());
        if (!Files.exists(dir.resolve(Prepare.MANIFEST))) {
            var spec = new DataCache.Spec(d.source(), d.vocabSize(), d.specials(), d.valFraction(), d.splitSeed());
            try {
                dir = DataCache.ensure(spec, d.cacheDir(), par, log);
            } catch (InputException e) { // say which key the input came from
                throw new InputException("data.source: " + e.problem(), e.hint() != null ? e.hint()
                        : "data.source takes kjv, synthetic, random, a text file, a directory, a glob or a prepared directory", e);
            }
        }
        ShardLoader train = ShardLoader.open(dir, "train", B, T, seed);
        if (train.vocabSize() != cfg.model().vocab())
            throw new InputException("the data in " + dir + " uses a vocabulary of " + train.vocabSize()
                    + " tokens but model.vocab = " + cfg.model().vocab(), "set model.vocab (and data.vocab_size) to "
                    + train.vocabSize());
        if (train.sequences() < B)
            throw new InputException("the training split of " + dir + " holds " + train.sequences() + " sequences of "
                    + (T + 1) + " tokens, fewer than one batch of " + B, "use more text, a smaller batch_size or seq_len");
        ShardLoader val = null;
        if (ShardSet.exists(dir, "val")) {
            ShardSet v = ShardSet.open(dir, "val");
            // Batches of the micro-batch size, so evaluation reuses the training step's activation arena.
            if (v.size() > T) val = new ShardLoader(v, B / cfg.train().gradAccum(), T, seed); // at least one sequence of T + 1
        }
        return new TrainData(train, val, dir.resolve(Prepare.TOKENIZER));
    }
}
