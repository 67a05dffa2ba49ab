package dev.palm4j.core.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.palm4j.core.kernels.Parallel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The trainer and encoder against the plain definition of BPE (the scalar twins): merges apply in
 * rank order, each to every occurrence left to right, and each merge is a most frequent pair of
 * the text as the earlier merges left it, recounted from scratch.
 */
class BpeReferenceTest {
    static int[] mergeAll(int[] s, int a, int b, int z) {
        int[] out = new int[s.length];
        int n = 0;
        for (int i = 0; i < s.length; ) {
            if (i + 1 < s.length && s[i] == a && s[i + 1] == b) {
                out[n++] = z;
                i += 2;
            } else out[n++] = s[i++];
        }
        return Arrays.copyOf(out, n);
    }

    static List<int[]> preTokens(byte[] b) {
        List<int[]> out = new ArrayList<>();
        for (int i = 0, j; i < b.length; i = j) {
            j = PreTokenizer.next(b, i, b.length);
            int[] s = new int[j - i];
            for (int k = 0; k < s.length; k++) s[k] = b[i + k] & 0xff;
            out.add(s);
        }
        return out;
    }

    static int[] referenceEncode(Tokenizer tok, byte[] b) {
        int[][] merges = tok.merges();
        int first = 256 + tok.specialTokens().size();
        List<Integer> ids = new ArrayList<>();
        for (int[] s : preTokens(b)) {
            for (int r = 0; r < merges.length; r++) s = mergeAll(s, merges[r][0], merges[r][1], first + r);
            for (int id : s) ids.add(id);
        }
        return ids.stream().mapToInt(Integer::intValue).toArray();
    }

    @Test
    void eachMergeIsAMostFrequentPairWhenRecounted() {
        List<byte[]> docs = TextGen.docs(41, 6, 1500);
        Tokenizer tok = Tokenizer.train(docs, Tokenizer.TrainOptions.of(450), Parallel.SERIAL);
        Map<String, int[]> words = new LinkedHashMap<>(); // word -> symbols
        Map<String, Integer> counts = new HashMap<>();
        for (byte[] d : docs) {
            for (int[] s : preTokens(d)) {
                String key = Arrays.toString(s);
                words.putIfAbsent(key, s);
                counts.merge(key, 1, Integer::sum);
            }
        }
        int[][] merges = tok.merges();
        assertEquals(450 - 257, merges.length);
        for (int r = 0; r < merges.length; r++) {
            Map<Long, Integer> pairs = new HashMap<>();
            for (Map.Entry<String, int[]> w : words.entrySet()) {
                int[] s = w.getValue();
                for (int i = 0; i + 1 < s.length; i++) pairs.merge(LongIntMap.pair(s[i], s[i + 1]), counts.get(w.getKey()), Integer::sum);
            }
            int best = pairs.values().stream().max(Integer::compare).orElse(0);
            assertEquals(best, pairs.get(LongIntMap.pair(merges[r][0], merges[r][1])), "merge " + r);
            for (Map.Entry<String, int[]> w : words.entrySet()) w.setValue(mergeAll(w.getValue(), merges[r][0], merges[r][1], 257 + r));
        }
    }

    @Test
    void encodeMatchesMergingInRankOrder() {
        Tokenizer tok = Tokenizer.train(TextGen.docs(42, 10, 2000), new Tokenizer.TrainOptions(600, List.of("<x>"), 2), Parallel.SERIAL);
        Random r = new Random(43);
        for (int t = 0; t < 100; t++) {
            byte[] text = t % 4 == 3 ? TextGen.randomBytes(r, 300) : TextGen.text(r, 100).getBytes(StandardCharsets.UTF_8);
            assertArrayEquals(referenceEncode(tok, text), tok.encode(text));
        }
    }
}
