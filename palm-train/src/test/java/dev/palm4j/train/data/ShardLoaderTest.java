package dev.palm4j.train.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.palm4j.core.InputException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ShardLoaderTest {
    @TempDir Path dir;
    ShardSet data;
    int[] stream;
    static final int T = 16, B = 8;

    @BeforeEach
    void write() {
        stream = new int[T * 96 + 1]; // exactly 96 sequences, 12 batches per epoch
        for (int i = 0; i < stream.length; i++) stream[i] = i;
        ShardWriter w = new ShardWriter(dir, "train", 2000, 2, 500); // several shards
        try (w) {
            w.write(stream);
        }
        data = ShardSet.open(w.shards());
    }

    private ShardLoader loader(long seed) {
        return new ShardLoader(data, B, T, seed);
    }

    @Test
    void rowsArePackedWindowsOfTPlusOneTokens() {
        ShardLoader l = loader(1);
        assertEquals(96, l.sequences());
        int[] b = l.batch(5);
        for (int r = 0; r < B; r++) {
            int start = b[r * (T + 1)];
            assertEquals(0, start % T);
            for (int t = 0; t <= T; t++) assertEquals(stream[start + t], b[r * (T + 1) + t]);
        }
    }

    @Test
    void anEpochVisitsEverySequenceOnceAndTheNextEpochReshuffles() {
        ShardLoader l = loader(2);
        Set<Integer> seen = new HashSet<>();
        int[] firstEpoch = new int[96], secondEpoch = new int[96];
        for (int p = 0; p < 24; p++) {
            int[] b = l.batch(p);
            for (int r = 0; r < B; r++) {
                int start = b[r * (T + 1)];
                if (p < 12) {
                    assertTrue(seen.add(start), "sequence at " + start + " twice in one epoch");
                    firstEpoch[p * B + r] = start;
                } else secondEpoch[(p - 12) * B + r] = start;
            }
        }
        assertEquals(96, seen.size());
        assertFalse(Arrays.equals(firstEpoch, secondEpoch));
        int[] sorted = secondEpoch.clone();
        Arrays.sort(sorted);
        for (int i = 0; i < 96; i++) assertEquals(i * T, sorted[i]);
    }

    @Test
    void aBatchDependsOnlyOnSeedAndPosition() {
        ShardLoader a = loader(3), b = loader(3);
        for (int p = 0; p < 30; p++) a.batch(p); // a has read ahead, b starts cold at 17 (resume)
        assertArrayEquals(a.batch(17), b.batch(17));
        assertArrayEquals(a.batch(1000), b.batch(1000)); // far in the future: skipped batches
        assertFalse(Arrays.equals(loader(3).batch(0), loader(4).batch(0)));
    }

    @Test
    void dataParallelSlicesAreTheFullBatchsRows() {
        ShardLoader l = loader(5);
        for (int ranks : new int[] {1, 2, 4, 8}) {
            for (long p : new long[] {0, 7, 13, 500}) {
                int[] full = l.batch(p);
                int rows = B / ranks, n = rows * (T + 1);
                for (int r = 0; r < ranks; r++) {
                    int[] slice = new int[n];
                    loader(5).fill(p, r, ranks, slice);
                    assertArrayEquals(Arrays.copyOfRange(full, r * n, (r + 1) * n), slice, "rank " + r + " of " + ranks);
                }
            }
        }
        InputException e = assertThrows(InputException.class, () -> l.fill(0, 0, 3, new int[B * (T + 1)]));
        assertTrue(e.getMessage().contains("not a multiple"));
    }

    @Test
    void tooLittleDataIsAnError() {
        InputException e = assertThrows(InputException.class, () -> new ShardLoader(data, 1, stream.length, 0));
        assertTrue(e.getMessage().contains("fewer than one sequence"), e.getMessage());
        assertEquals(1, new ShardLoader(data, 1, stream.length - 1, 0).sequences());
    }

    @Test
    void sequentialSequencesForEvaluation() {
        ShardLoader l = loader(6);
        int[] dst = new int[T + 1];
        l.readSequence(95, dst, 0);
        assertArrayEquals(Arrays.copyOfRange(stream, 95 * T, 96 * T + 1), dst);
        assertThrows(IndexOutOfBoundsException.class, () -> l.readSequence(96, dst, 0));
    }

    @Test
    void permutationsAreBijections() {
        for (long n : new long[] {1, 2, 3, 5, 16, 17, 1000, 4097}) {
            for (long seed : new long[] {0, 1, -7}) {
                Permutation p = new Permutation(n, seed);
                Set<Long> seen = new HashSet<>();
                for (long i = 0; i < n; i++) {
                    long v = p.apply(i);
                    assertTrue(v >= 0 && v < n);
                    assertTrue(seen.add(v));
                }
            }
        }
        Permutation p = new Permutation(1000, 9);
        int fixed = 0;
        for (int i = 0; i < 1000; i++) if (p.apply(i) == i) fixed++;
        assertTrue(fixed < 20, "not much of a shuffle: " + fixed + " fixed points");
    }

    @Test
    void randomTokensAreDeterministicInRangeAndSliceLikeShards() {
        RandomTokens rt = new RandomTokens(50, 4, 10, 7);
        int[] b = rt.batch(3);
        assertArrayEquals(b, new RandomTokens(50, 4, 10, 7).batch(3));
        assertFalse(Arrays.equals(b, rt.batch(4)));
        for (int id : b) assertTrue(id >= 0 && id < 50);
        int[] half = new int[2 * 11];
        rt.fill(3, 1, 2, half);
        assertArrayEquals(Arrays.copyOfRange(b, 22, 44), half);
        assertThrows(InputException.class, () -> new RandomTokens(0, 1, 1, 0));
    }
}
