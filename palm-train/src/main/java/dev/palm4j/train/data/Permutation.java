package dev.palm4j.train.data;

/**
 * A seeded pseudo-random permutation of {@code [0, n)} that needs no memory: a 4-round Feistel
 * network over the smallest even-bit power of two that holds n, with cycle walking (apply again
 * until the value falls below n; at most 4 tries on average). Any index maps in O(1), so the
 * loader can find the sequence for any data position without shuffling a whole epoch first.
 */
final class Permutation {
    private final long n, seed;
    private final int half; // bits per Feistel half
    private final long mask;

    Permutation(long n, long seed) {
        if (n < 1) throw new IllegalArgumentException("n = " + n);
        this.n = n;
        this.seed = seed;
        int bits = Math.max(2, 64 - Long.numberOfLeadingZeros(n - 1));
        half = (bits + 1) / 2;
        mask = (1L << half) - 1;
    }

    long seed() {
        return seed;
    }

    long apply(long i) {
        if (i < 0 || i >= n) throw new IndexOutOfBoundsException(i + " of " + n);
        long x = i;
        do x = round(x); while (x >= n);
        return x;
    }

    private long round(long x) {
        long l = x >>> half, r = x & mask;
        for (int k = 0; k < 4; k++) {
            long t = l ^ (mix(seed + k * 0x9E3779B97F4A7C15L + r) & mask);
            l = r;
            r = t;
        }
        return (l << half) | r;
    }

    /** SplitMix64's finaliser. */
    static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}
