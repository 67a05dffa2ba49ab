package dev.palm4j.train.data;

import dev.palm4j.core.InputException;
import java.util.SplittableRandom;

/**
 * Uniform random token ids, for benchmarks that need data but not text. Row {@code g} of the
 * global row stream ({@code g = position * B + row}) is drawn from a generator seeded with
 * (seed, g) alone, so it has the same determinism as {@link ShardLoader}.
 */
public record RandomTokens(int vocabSize, int batchSize, int seqLen, long seed) implements BatchSource {
    public RandomTokens {
        if (vocabSize < 1 || batchSize < 1 || seqLen < 1) {
            throw new InputException("random tokens need a positive vocab size, batch size and sequence length, got "
                    + vocabSize + ", " + batchSize + ", " + seqLen);
        }
    }

    @Override
    public void fill(long position, int rank, int ranks, int[] dst) {
        int first = BatchSource.firstRow(batchSize, rank, ranks), rows = batchSize / ranks;
        for (int r = 0; r < rows; r++) {
            SplittableRandom rng = new SplittableRandom(Permutation.mix(seed ^ Permutation.mix(position * batchSize + first + r)));
            for (int t = 0, off = r * (seqLen + 1); t <= seqLen; t++) dst[off + t] = rng.nextInt(vocabSize);
        }
    }
}
