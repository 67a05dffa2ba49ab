package dev.palm4j.core.tokenizer;

import java.util.Arrays;

/** A growable int array. */
final class IntList {
    int[] a;
    int size;

    IntList(int capacity) {
        a = new int[Math.max(4, capacity)];
    }

    void add(int v) {
        if (size == a.length) a = Arrays.copyOf(a, 2 * size);
        a[size++] = v;
    }

    void addAll(int[] v, int from, int to) {
        int n = to - from;
        if (size + n > a.length) a = Arrays.copyOf(a, Math.max(2 * a.length, size + n));
        System.arraycopy(v, from, a, size, n);
        size += n;
    }

    int last() {
        return size == 0 ? -1 : a[size - 1];
    }

    int[] toArray() {
        return Arrays.copyOf(a, size);
    }
}
