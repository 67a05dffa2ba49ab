package dev.palm4j.train.config;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.palm4j.core.InputException;
import java.util.List;

/**
 * The {@code train:} section: the step loop, evaluation, checkpoints and console output.
 *
 * @param batchSize          sequences per optimizer step, over all micro-batches and data ranks
 *                           (so changing grad_accum or parallel.data keeps the same mathematics)
 * @param seqLen             tokens per sequence
 * @param steps              optimizer steps of the whole run (with --resume: train until this step)
 * @param gradAccum          micro-batches per step; batch_size must be divisible by it
 * @param evalInterval       steps between validation evaluations; 0 = never
 * @param evalBatches        validation batches (of batch_size sequences) per evaluation
 * @param checkpointInterval steps between checkpoints; 0 = only at the end (always at the end)
 * @param keepCheckpoints    newest checkpoints kept (the best by validation loss is kept as well)
 * @param seed               seeds initialisation and the batch order
 * @param threads            CPU threads for the whole run; the default is every available CPU
 * @param logInterval        steps between console lines (metrics.jsonl gets every step)
 * @param sampleInterval     steps between printed samples from {@code samplePrompt} (also printed with
 *                           every evaluation); 0 = never
 * @param samplePrompt       text the samples continue; empty = the start of a new document
 * @param sampleTokens       tokens generated per sample
 */
public record TrainConfig(int batchSize, int seqLen, int steps, int gradAccum, int evalInterval, int evalBatches,
                          int checkpointInterval, int keepCheckpoints, long seed, int threads, int logInterval,
                          int sampleInterval, String samplePrompt, int sampleTokens) {

    static final List<String> KEYS = List.of("batch_size", "seq_len", "steps", "grad_accum", "eval_interval",
            "eval_batches", "checkpoint_interval", "keep_checkpoints", "seed", "threads", "log_interval",
            "sample_interval", "sample_prompt", "sample_tokens");

    public TrainConfig {
        Check.atLeast("train.batch_size", batchSize, 1);
        Check.atLeast("train.seq_len", seqLen, 1);
        Check.atLeast("train.steps", steps, 1);
        Check.atLeast("train.grad_accum", gradAccum, 1);
        Check.atLeast("train.eval_interval", evalInterval, 0);
        Check.atLeast("train.eval_batches", evalBatches, 1);
        Check.atLeast("train.checkpoint_interval", checkpointInterval, 0);
        Check.atLeast("train.keep_checkpoints", keepCheckpoints, 1);
        Check.atLeast("train.threads", threads, 1);
        Check.atLeast("train.log_interval", logInterval, 1);
        Check.atLeast("train.sample_interval", sampleInterval, 0);
        Check.notNull("train.sample_prompt", samplePrompt);
        Check.atLeast("train.sample_tokens", sampleTokens, 1);
        if (batchSize % gradAccum != 0)
            throw new InputException("train.batch_size = " + batchSize + " is not divisible by train.grad_accum = "
                    + gradAccum, "batch_size counts the sequences of a whole step, split into grad_accum micro-batches");
    }

    /** Sequences in one micro-batch (over all data ranks). */
    public int microBatch() {
        return batchSize / gradAccum;
    }

    /** Tokens per optimizer step. */
    public long tokensPerStep() {
        return (long) batchSize * seqLen;
    }

    static TrainConfig read(Keys in, int defaultThreads) {
        return new TrainConfig(in.integer("batch_size"), in.integer("seq_len"), in.integer("steps"),
                in.integer("grad_accum", 1), in.integer("eval_interval", 0), in.integer("eval_batches", 20),
                in.integer("checkpoint_interval", 0), in.integer("keep_checkpoints", 3), in.int64("seed", 0),
                in.integer("threads", defaultThreads), in.integer("log_interval", 1), in.integer("sample_interval", 0),
                in.string("sample_prompt", ""), in.integer("sample_tokens", 64));
    }

    void write(ObjectNode out) {
        out.put("batch_size", batchSize).put("seq_len", seqLen).put("steps", steps).put("grad_accum", gradAccum)
                .put("eval_interval", evalInterval).put("eval_batches", evalBatches)
                .put("checkpoint_interval", checkpointInterval).put("keep_checkpoints", keepCheckpoints)
                .put("seed", seed).put("threads", threads).put("log_interval", logInterval)
                .put("sample_interval", sampleInterval).put("sample_prompt", samplePrompt).put("sample_tokens", sampleTokens);
    }
}
