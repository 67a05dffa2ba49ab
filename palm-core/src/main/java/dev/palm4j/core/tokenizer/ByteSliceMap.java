package dev.palm4j.core.tokenizer;

import java.util.Arrays;

/**
 * Insertion-ordered set of byte strings, looked up by slices of a larger array without copying
 * them first, each with an int value. Entries are numbered 0, 1, ... in insertion order, which
 * keeps everything built on top of it deterministic.
 */
final class ByteSliceMap {
    private byte[] arena = new byte[1 << 12];
    private int arenaSize;
    private int[] start = new int[64], length = new int[64], hash = new int[64], value = new int[64];
    private int[] table = new int[128]; // entry + 1, 0 = empty
    private int size;

    int size() {
        return size;
    }

    /** The entry for {@code b[from, to)}, or -1. */
    int find(byte[] b, int from, int to) {
        int h = hash(b, from, to), mask = table.length - 1;
        for (int i = h & mask; ; i = (i + 1) & mask) {
            int e = table[i] - 1;
            if (e < 0) return -1;
            if (hash[e] == h && equal(e, b, from, to)) return e;
        }
    }

    /** The entry for {@code b[from, to)}, added with value 0 when absent. */
    int add(byte[] b, int from, int to) {
        int h = hash(b, from, to), mask = table.length - 1;
        int i = h & mask;
        for (; ; i = (i + 1) & mask) {
            int e = table[i] - 1;
            if (e < 0) break;
            if (hash[e] == h && equal(e, b, from, to)) return e;
        }
        int e = size++, n = to - from;
        if (e == start.length) {
            int cap = 2 * e;
            start = Arrays.copyOf(start, cap);
            length = Arrays.copyOf(length, cap);
            hash = Arrays.copyOf(hash, cap);
            value = Arrays.copyOf(value, cap);
        }
        if (arenaSize + n > arena.length) arena = Arrays.copyOf(arena, Math.max(2 * arena.length, arenaSize + n));
        System.arraycopy(b, from, arena, arenaSize, n);
        start[e] = arenaSize;
        length[e] = n;
        hash[e] = h;
        arenaSize += n;
        table[i] = e + 1;
        if (2 * size > table.length) rehash();
        return e;
    }

    int value(int e) {
        return value[e];
    }

    void setValue(int e, int v) {
        value[e] = v;
    }

    void addValue(int e, int delta) {
        value[e] += delta;
    }

    int length(int e) {
        return length[e];
    }

    /** Byte {@code i} of entry {@code e}'s key. */
    int byteAt(int e, int i) {
        return arena[start[e] + i] & 0xff;
    }

    /** Entry {@code e}'s key appended to, or looked up in, another map. */
    int addTo(ByteSliceMap other, int e) {
        return other.add(arena, start[e], start[e] + length[e]);
    }

    private boolean equal(int e, byte[] b, int from, int to) {
        return length[e] == to - from && Arrays.equals(arena, start[e], start[e] + length[e], b, from, to);
    }

    private void rehash() {
        table = new int[table.length * 2];
        int mask = table.length - 1;
        for (int e = 0; e < size; e++) {
            int i = hash[e] & mask;
            while (table[i] != 0) i = (i + 1) & mask;
            table[i] = e + 1;
        }
    }

    private static int hash(byte[] b, int from, int to) {
        int h = 0x811C9DC5;
        for (int i = from; i < to; i++) h = (h ^ b[i]) * 0x01000193;
        return h ^ (h >>> 15);
    }
}
