package dev.palm4j.core.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;

class PreTokenizerTest {
    static List<String> split(String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        List<String> out = new ArrayList<>();
        for (int i = 0, j; i < b.length; i = j) {
            j = PreTokenizer.next(b, i, b.length);
            out.add(new String(b, i, j - i, StandardCharsets.UTF_8));
        }
        return out;
    }

    @Test
    void splitsWordsPunctuationDigitsAndWhitespace() {
        assertEquals(List.of("Hello", ",", " world", "  ", "4", "2", "\n\n ", " foo", "."),
                split("Hello, world  42\n\n  foo."));
        assertEquals(List.of("a", " (", "b", ")", " \t", "x", "\n"), split("a (b) \tx\n"));
        assertEquals(List.of(" ", "1", "9", "8", "4"), split(" 1984"));
        assertEquals(List.of("café", " naïve", " мир", " 世界"), split("café naïve мир 世界"));
        assertEquals(List.of("e\u0301t\u0301e"), split("e\u0301t\u0301e")); // combining marks stay in the word
        assertEquals(List.of("٣", "٤"), split("٣٤")); // Unicode digits split too
    }

    @Test
    void piecesCoverTheInputForArbitraryBytes() {
        Random r = new Random(1);
        for (int t = 0; t < 500; t++) {
            byte[] b = TextGen.randomBytes(r, r.nextInt(300));
            int covered = 0;
            for (int i = 0, j; i < b.length; i = j) {
                j = PreTokenizer.next(b, i, b.length);
                assertTrue(j > i && j - i <= PreTokenizer.MAX_BYTES);
                covered += j - i;
            }
            assertEquals(b.length, covered);
        }
    }

    @Test
    void longRunsAreCutAtCharacterBoundaries() {
        for (String unit : new String[] {"a", "é", "世", "🙂", " ", "\n", "."}) {
            String s = unit.repeat(1000);
            List<String> pieces = split(s);
            assertEquals(s, String.join("", pieces));
            for (String p : pieces) {
                assertTrue(p.getBytes(StandardCharsets.UTF_8).length <= PreTokenizer.MAX_BYTES);
                assertEquals(-1, p.indexOf('\uFFFD'), "a piece split a character: " + unit);
            }
        }
    }

    @Test
    void validUtf8IsRecognisedAndInvalidBytesStandAlone() {
        assertEquals(2, len("é"));
        assertEquals(3, len("世"));
        assertEquals(4, len("🙂"));
        int[][] invalid = {{0x80}, {0xC0, 0x80}, {0xC1, 0xBF}, {0xE0, 0x80, 0x80}, {0xED, 0xA0, 0x80},
            {0xF4, 0x90, 0x80, 0x80}, {0xF5, 0x80, 0x80, 0x80}, {0xFF}, {0xE2, 0x82}, {0xF0, 0x9F, 0x99}};
        for (int[] seq : invalid) {
            byte[] b = new byte[seq.length];
            for (int i = 0; i < b.length; i++) b[i] = (byte) seq[i];
            assertEquals(1, PreTokenizer.charLength(b, 0, b.length));
        }
    }

    private static int len(String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        return PreTokenizer.charLength(b, 0, b.length);
    }

    @Test
    void chunkCutsArePreTokenBoundaries() {
        Random r = new Random(2);
        for (int t = 0; t < 20; t++) {
            byte[] b = TextGen.text(r, 3000).getBytes(StandardCharsets.UTF_8);
            Set<Integer> boundaries = new HashSet<>();
            for (int i = 0; i < b.length; i = PreTokenizer.next(b, i, b.length)) boundaries.add(i);
            int[] cuts = PreTokenizer.chunks(b, b.length, 500 + r.nextInt(500));
            assertEquals(0, cuts[0]);
            assertEquals(b.length, cuts[cuts.length - 1]);
            assertTrue(cuts.length > 3);
            for (int k = 1; k + 1 < cuts.length; k++) {
                assertTrue(cuts[k] > cuts[k - 1]);
                assertTrue(boundaries.contains(cuts[k]), "cut " + cuts[k] + " is not a pre-token boundary");
            }
        }
        assertArrayEquals(new int[] {0, 10}, PreTokenizer.chunks(new byte[10], 10, 4)); // no newline: one chunk
    }
}
