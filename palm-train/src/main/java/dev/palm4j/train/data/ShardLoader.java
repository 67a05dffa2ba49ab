package dev.palm4j.train.data;

import dev.palm4j.core.InputException;

/**
 * Training batches from memory-mapped shards. The token stream is cut into
 * {@code S = (N - 1) / T} sequences of {@code T + 1} tokens starting at multiples of {@code T}
 * (so each target has its input, and nothing is padded). Batch {@code p} takes the global
 * sequence slots {@code p*B .. p*B + B - 1}; slot {@code g} is sequence
 * {@code perm_e(g mod S)} of epoch {@code e = g / S}, where {@code perm_e} is a seeded
 * permutation (a fresh one per epoch). A data-parallel rank computes and reads only its rows.
 */
public final class ShardLoader implements BatchSource {
    private final ShardSet data;
    private final int batchSize, seqLen;
    private final long seed, sequences;
    private volatile Permutation perm; // of the epoch read last; rebuilding one is cheap

    public ShardLoader(ShardSet data, int batchSize, int seqLen, long seed) {
        if (batchSize < 1 || seqLen < 1) throw new InputException("batch size and sequence length must be positive, got "
                + batchSize + " and " + seqLen);
        this.data = data;
        this.batchSize = batchSize;
        this.seqLen = seqLen;
        this.seed = seed;
        this.sequences = (data.size() - 1) / seqLen;
        if (sequences < 1) {
            throw new InputException("the data holds " + data.size() + " tokens, fewer than one sequence of seq_len + 1 = "
                    + (seqLen + 1) + ": use more text or a shorter sequence length");
        }
    }

    /** Split {@code split} of a prepared directory. */
    public static ShardLoader open(java.nio.file.Path dir, String split, int batchSize, int seqLen, long seed) {
        return new ShardLoader(ShardSet.open(dir, split), batchSize, seqLen, seed);
    }

    @Override
    public int batchSize() {
        return batchSize;
    }

    @Override
    public int seqLen() {
        return seqLen;
    }

    @Override
    public int vocabSize() {
        return data.vocabSize();
    }

    /** Number of distinct sequences (one epoch is this many rows). */
    public long sequences() {
        return sequences;
    }

    /** Batches per epoch, rounded down. */
    public long batchesPerEpoch() {
        return sequences / batchSize;
    }

    @Override
    public void fill(long position, int rank, int ranks, int[] dst) {
        if (position < 0) throw new IllegalArgumentException("position " + position);
        int first = BatchSource.firstRow(batchSize, rank, ranks), rows = batchSize / ranks;
        for (int r = 0; r < rows; r++) {
            long slot = position * batchSize + first + r;
            readSequence(sequenceAt(slot / sequences, slot % sequences), dst, r * (seqLen + 1));
        }
    }

    /** Sequence {@code index} in stream order (no shuffling): for evaluation passes. */
    public void readSequence(long index, int[] dst, int off) {
        if (index < 0 || index >= sequences) throw new IndexOutOfBoundsException("sequence " + index + " of " + sequences);
        data.read(index * seqLen, dst, off, seqLen + 1);
    }

    private long sequenceAt(long epoch, long i) {
        Permutation p = perm;
        long epochSeed = Permutation.mix(seed ^ Permutation.mix(epoch + 1));
        if (p == null || p.seed() != epochSeed) perm = p = new Permutation(sequences, epochSeed);
        return p.apply(i);
    }
}
