package dev.palm4j.core.tokenizer;

import dev.palm4j.core.kernels.Parallel;
import java.util.Arrays;
import java.util.List;

/**
 * Learns BPE merges from word-type counts, never recounting the corpus.
 *
 * <p>The corpus is reduced once to its distinct pre-tokens ("words") with counts. Every adjacent
 * pair keeps a count (weighted by word counts) and the list of words it was created in. A merge
 * rewrites only the words on its pair's list and adjusts the counts of the pairs around each
 * occurrence. Counts of existing pairs only ever go down (every new pair contains the new token),
 * so a max-heap with lazy re-validation finds the best pair: a popped entry whose count is stale
 * is pushed back with its current count. Ties go to the pair seen first, which depends only on
 * the text, so training is deterministic for any thread count.
 */
final class BpeTrainer {
    private BpeTrainer() {}

    /** Chunk size for counting words in parallel. */
    static final int CHUNK_BYTES = 1 << 18;

    /** Learns up to {@code maxMerges} merges; the first new token gets id {@code firstId}. */
    static int[][] train(List<byte[]> docs, int maxMerges, int firstId, int minPairCount, Parallel par) {
        ByteSliceMap words = countWords(docs, par);
        return new BpeTrainer.Run(words, firstId, minPairCount).merges(maxMerges);
    }

    /** Distinct pre-tokens of all documents with their counts, in order of first appearance. */
    static ByteSliceMap countWords(List<byte[]> docs, Parallel par) {
        IntList chunkDoc = new IntList(16), chunkFrom = new IntList(16), chunkTo = new IntList(16);
        for (int d = 0; d < docs.size(); d++) {
            byte[] b = docs.get(d);
            int[] cuts = PreTokenizer.chunks(b, b.length, CHUNK_BYTES);
            for (int k = 0; k + 1 < cuts.length; k++) {
                if (cuts[k] == cuts[k + 1]) continue;
                chunkDoc.add(d);
                chunkFrom.add(cuts[k]);
                chunkTo.add(cuts[k + 1]);
            }
        }
        ByteSliceMap[] local = new ByteSliceMap[chunkDoc.size];
        par.forEach(local.length, t -> {
            byte[] b = docs.get(chunkDoc.a[t]);
            ByteSliceMap m = new ByteSliceMap();
            for (int i = chunkFrom.a[t], end = chunkTo.a[t], j; i < end; i = j) {
                j = PreTokenizer.next(b, i, end);
                m.addValue(m.add(b, i, j), 1);
            }
            local[t] = m;
        });
        ByteSliceMap all = new ByteSliceMap();
        for (ByteSliceMap m : local) { // in chunk order: first appearance is the same for any width
            for (int e = 0; e < m.size(); e++) all.addValue(m.addTo(all, e), m.value(e));
        }
        return all;
    }

    /** State of one training run. */
    private static final class Run {
        final int[][] sym; // symbols of each word (only words of 2+ bytes)
        final int[] len, count, stamp;
        final int firstId, minPairCount;

        final LongIntMap pairIds = new LongIntMap(1 << 16);
        int[] pairA = new int[1 << 16], pairB = new int[1 << 16], pairCount = new int[1 << 16];
        IntList[] pairWords = new IntList[1 << 16];
        int[] touchedAt = new int[1 << 16];
        int pairs;

        long[] heap = new long[1 << 16];
        int heapSize;
        final IntList touched = new IntList(1024);

        Run(ByteSliceMap words, int firstId, int minPairCount) {
            this.firstId = firstId;
            this.minPairCount = minPairCount;
            int n = 0;
            for (int e = 0; e < words.size(); e++) if (words.length(e) > 1) n++;
            sym = new int[n][];
            len = new int[n];
            count = new int[n];
            stamp = new int[n];
            Arrays.fill(stamp, -1);
            for (int e = 0, w = 0; e < words.size(); e++) {
                int l = words.length(e);
                if (l < 2) continue;
                sym[w] = new int[l];
                for (int i = 0; i < l; i++) sym[w][i] = words.byteAt(e, i);
                len[w] = l;
                count[w] = words.value(e);
                w++;
            }
        }

        int[][] merges(int maxMerges) {
            for (int w = 0; w < sym.length; w++) {
                for (int i = 0; i + 1 < len[w]; i++) add(sym[w][i], sym[w][i + 1], count[w], w, -1);
            }
            for (int p = 0; p < pairs; p++) push(p);
            int[][] merges = new int[maxMerges][];
            int m = 0;
            while (m < maxMerges && heapSize > 0) {
                long top = pop();
                int p = (int) (0xFFFFFFFFL - (top & 0xFFFFFFFFL)), c = (int) (top >>> 32);
                if (c != pairCount[p]) { // stale: counts only fall, so re-queue with the current one
                    if (pairCount[p] > 0) push(p);
                    continue;
                }
                if (c < minPairCount) break;
                merges[m] = new int[] {pairA[p], pairB[p]};
                apply(p, firstId + m, m);
                m++;
            }
            return Arrays.copyOf(merges, m);
        }

        /** Merges pair {@code p} into token {@code z} in every word that holds it. */
        private void apply(int p, int z, int merge) {
            int a = pairA[p], b = pairB[p];
            IntList ws = pairWords[p];
            touched.size = 0;
            for (int k = 0; k < ws.size; k++) {
                int w = ws.a[k];
                if (stamp[w] == merge) continue;
                stamp[w] = merge;
                int[] s = sym[w];
                int n = len[w], c = count[w], out = 0;
                for (int i = 0; i < n; ) {
                    if (i + 1 < n && s[i] == a && s[i + 1] == b) {
                        if (out > 0) {
                            add(s[out - 1], a, -c, w, merge);
                            add(s[out - 1], z, c, w, merge);
                        }
                        if (i + 2 < n) {
                            add(b, s[i + 2], -c, w, merge);
                            add(z, s[i + 2], c, w, merge);
                        }
                        s[out++] = z;
                        i += 2;
                    } else {
                        s[out++] = s[i++];
                    }
                }
                len[w] = out;
            }
            pairCount[p] = 0;
            pairWords[p] = null;
            for (int k = 0; k < touched.size; k++) if (pairCount[touched.a[k]] > 0) push(touched.a[k]);
        }

        /** Adds {@code delta} to pair (a, b)'s count; a rise records word {@code w} and marks the pair. */
        private void add(int a, int b, int delta, int w, int merge) {
            long key = LongIntMap.pair(a, b);
            int p = pairIds.get(key, -1);
            if (p < 0) {
                p = pairs++;
                if (p == pairA.length) growPairs();
                pairIds.put(key, p);
                pairA[p] = a;
                pairB[p] = b;
                pairWords[p] = new IntList(4);
                touchedAt[p] = -1;
            }
            pairCount[p] += delta;
            if (delta > 0) {
                if (pairWords[p].last() != w) pairWords[p].add(w);
                if (merge >= 0 && touchedAt[p] != merge) {
                    touchedAt[p] = merge;
                    touched.add(p);
                }
            }
        }

        private void growPairs() {
            int cap = 2 * pairA.length;
            pairA = Arrays.copyOf(pairA, cap);
            pairB = Arrays.copyOf(pairB, cap);
            pairCount = Arrays.copyOf(pairCount, cap);
            pairWords = Arrays.copyOf(pairWords, cap);
            touchedAt = Arrays.copyOf(touchedAt, cap);
        }

        // Max-heap of (count << 32 | ~pair): highest count first, then the pair created first.
        private void push(int p) {
            if (heapSize == heap.length) heap = Arrays.copyOf(heap, 2 * heapSize);
            long key = ((long) pairCount[p] << 32) | (0xFFFFFFFFL - p);
            int i = heapSize++;
            while (i > 0) {
                int parent = (i - 1) >>> 1;
                if (heap[parent] >= key) break;
                heap[i] = heap[parent];
                i = parent;
            }
            heap[i] = key;
        }

        private long pop() {
            long top = heap[0], last = heap[--heapSize];
            int i = 0;
            while (true) {
                int child = 2 * i + 1;
                if (child >= heapSize) break;
                if (child + 1 < heapSize && heap[child + 1] > heap[child]) child++;
                if (heap[child] <= last) break;
                heap[i] = heap[child];
                i = child;
            }
            if (heapSize > 0) heap[i] = last;
            return top;
        }
    }
}
