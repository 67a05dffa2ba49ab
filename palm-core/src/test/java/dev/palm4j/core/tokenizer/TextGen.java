package dev.palm4j.core.tokenizer;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/** Seeded test text: English-like words, numbers, punctuation, odd whitespace, other scripts. */
final class TextGen {
    private TextGen() {}

    static final String[] WORDS = {
        "the", "and", "of", "to", "in", "that", "shall", "unto", "he", "his", "lord", "god", "said",
        "they", "be", "is", "him", "not", "them", "with", "all", "for", "thou", "thy", "was", "which",
        "my", "me", "but", "ye", "their", "have", "this", "from", "were", "upon", "man", "king", "land",
        "Israel", "LORD", "people", "house", "children", "came", "son", "hath", "day", "before", "out",
    };
    static final String[] FOREIGN = {
        "καλημέρα", "мир", "世界", "こんにちは", "مرحبا", "नमस्ते", "café", "naïve", "Zürich", "🙂", "𝔘𝔫𝔦", "e\u0301",
    };
    static final String[] SPACES = {" ", "  ", "\n", "\n\n", "\t", "\r\n", "   \n  ", "\u00A0", "\u3000"};
    static final String[] PUNCT = {",", ".", ";", ":", "!", "?", "'", "\"", "(", ")", "--", "...", "—", "“", "”"};

    static final String[] SYLLABLES = {"ka", "ri", "mon", "tel", "as", "ur", "ben", "sho", "li", "ta", "ne", "vor", "di", "gal", "e", "o"};
    /** Made-up words, so that training has many word types to learn from. */
    static final String[] LEXICON = new String[3000];

    static {
        Random r = new Random(99);
        for (int i = 0; i < LEXICON.length; i++) {
            StringBuilder w = new StringBuilder();
            for (int k = 1 + r.nextInt(4); k > 0; k--) w.append(SYLLABLES[r.nextInt(SYLLABLES.length)]);
            LEXICON[i] = r.nextInt(10) == 0 ? Character.toUpperCase(w.charAt(0)) + w.substring(1) : w.toString();
        }
    }

    /** About {@code words} words of mixed text. */
    static String text(Random r, int words) {
        StringBuilder s = new StringBuilder();
        for (int i = 0; i < words; i++) {
            int k = r.nextInt(100);
            if (k < 40) s.append(WORDS[(int) Math.min(WORDS.length - 1, Math.abs(r.nextGaussian()) * WORDS.length / 3)]);
            else if (k < 70) s.append(LEXICON[(int) Math.min(LEXICON.length - 1, Math.exp(r.nextDouble() * Math.log(LEXICON.length)) - 1)]);
            else if (k < 78) s.append(r.nextInt(k < 74 ? 100 : 1_000_000));
            else if (k < 86) s.append(FOREIGN[r.nextInt(FOREIGN.length)]);
            else s.append(PUNCT[r.nextInt(PUNCT.length)]);
            s.append(r.nextInt(10) < 8 ? " " : SPACES[r.nextInt(SPACES.length)]);
        }
        return s.toString();
    }

    static List<byte[]> docs(long seed, int docs, int words) {
        Random r = new Random(seed);
        List<byte[]> out = new ArrayList<>();
        for (int d = 0; d < docs; d++) out.add(text(r, words).getBytes(StandardCharsets.UTF_8));
        return out;
    }

    static byte[] randomBytes(Random r, int n) {
        byte[] b = new byte[n];
        r.nextBytes(b);
        return b;
    }
}
