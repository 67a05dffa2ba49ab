package dev.palm4j.train.data;

/**
 * Batches of {@code batchSize} rows of {@code seqLen + 1} tokens (inputs are a row's first
 * {@code seqLen} tokens, targets its last {@code seqLen}). The batch at a data position depends
 * only on the source, its seed and the position: resuming, skipping batches and splitting a
 * batch across data-parallel ranks all see the same rows.
 */
public interface BatchSource {
    int batchSize();

    int seqLen();

    int vocabSize();

    /**
     * Writes rank {@code rank}'s rows of batch {@code position}, rows
     * {@code [rank * B / ranks, (rank + 1) * B / ranks)}, row-major into {@code dst}, which holds
     * at least {@code (B / ranks) * (seqLen + 1)} ints. {@code B} must be a multiple of {@code ranks}.
     */
    void fill(long position, int rank, int ranks, int[] dst);

    /** The whole batch at {@code position}. */
    default int[] batch(long position) {
        int[] dst = new int[batchSize() * (seqLen() + 1)];
        fill(position, 0, 1, dst);
        return dst;
    }

    /** First row of rank {@code rank}'s slice; checks the split. */
    static int firstRow(int batchSize, int rank, int ranks) {
        if (ranks < 1 || rank < 0 || rank >= ranks) throw new IllegalArgumentException("rank " + rank + " of " + ranks);
        if (batchSize % ranks != 0) {
            throw new dev.palm4j.core.InputException("batch size " + batchSize + " is not a multiple of the "
                    + ranks + " data-parallel ranks");
        }
        return rank * (batchSize / ranks);
    }

    /** rows (B, T+1) -> inputs (B, T) = rows[:, :T], targets (B, T) = rows[:, 1:] */
    static void split(int[] rows, int B, int T, int[] inputs, int[] targets) {
        for (int b = 0; b < B; b++) {
            System.arraycopy(rows, b * (T + 1), inputs, b * T, T);
            System.arraycopy(rows, b * (T + 1) + 1, targets, b * T, T);
        }
    }
}
