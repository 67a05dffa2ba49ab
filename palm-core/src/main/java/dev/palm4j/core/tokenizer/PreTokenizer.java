package dev.palm4j.core.tokenizer;

/**
 * Splits bytes into pre-tokens, the units BPE merges never cross. Works on raw bytes, so every
 * byte string splits (invalid UTF-8 included) and the pieces always concatenate back to the
 * input: the tokenizer is lossless by construction.
 *
 * <p>Rules (format version 1; changing them changes every tokenizer file):
 * <ul>
 *   <li>a character is one valid UTF-8 sequence, or a single byte that does not start one;
 *   <li>classes: letter (Unicode letters and combining marks), digit (Unicode Nd), space
 *       (U+0020), other whitespace, and other (punctuation, symbols, controls, invalid bytes);
 *   <li>each digit is a pre-token of its own, so numbers always split into single digits;
 *   <li>a run of letters, or a run of others, is one pre-token, taking one space before it
 *       (" the", " (");
 *   <li>a run of whitespace is one pre-token, less its last space when that space starts the
 *       next word ("\n  foo" -> "\n ", " foo");
 *   <li>no pre-token is longer than {@link #MAX_BYTES} bytes (longer runs are cut at character
 *       boundaries), which bounds the cost of encoding one pre-token.
 * </ul>
 */
final class PreTokenizer {
    private PreTokenizer() {}

    static final int MAX_BYTES = 64;

    static final int LETTER = 0, DIGIT = 1, SPACE = 2, WHITESPACE = 3, OTHER = 4;

    private static final byte[] ASCII = new byte[128];

    static {
        for (int c = 0; c < 128; c++) {
            ASCII[c] = (byte) (Character.isLetter(c) ? LETTER : Character.isDigit(c) ? DIGIT
                    : c == ' ' ? SPACE : (c >= 9 && c <= 13) ? WHITESPACE : OTHER);
        }
    }

    /** End of the pre-token that starts at {@code i}; {@code i < end}. */
    static int next(byte[] b, int i, int end) {
        int c = classAt(b, i, end), n = charLength(b, i, end);
        switch (c) {
            case DIGIT:
                return i + n;
            case LETTER:
            case OTHER:
                return run(b, i + n, end, c, i);
            default: { // whitespace
                if (c == SPACE && i + 1 < end) { // " word" or " (("
                    int d = classAt(b, i + 1, end);
                    if (d == LETTER || d == OTHER) return run(b, i + 1, end, d, i);
                }
                int j = i + n;
                int limit = Math.min(end, i + MAX_BYTES);
                while (j < limit) {
                    int d = classAt(b, j, end);
                    if (d != SPACE && d != WHITESPACE) break;
                    int m = charLength(b, j, end);
                    if (j + m > limit) break;
                    j += m;
                }
                // Leave a last space to start the word that follows.
                if (j < end && j - 1 > i && b[j - 1] == ' ') {
                    int d = classAt(b, j, end);
                    if (d == LETTER || d == OTHER) return j - 1;
                }
                return j;
            }
        }
    }

    /** Extends a run of class {@code c} from {@code j}; the pre-token started at {@code start}. */
    private static int run(byte[] b, int j, int end, int c, int start) {
        int limit = Math.min(end, start + MAX_BYTES);
        while (j < limit) {
            if (classAt(b, j, end) != c) break;
            int m = charLength(b, j, end);
            if (j + m > limit) break;
            j += m;
        }
        return j;
    }

    /** Class of the character at {@code i}. */
    static int classAt(byte[] b, int i, int end) {
        int x = b[i];
        if (x >= 0) return ASCII[x];
        int n = charLength(b, i, end);
        if (n == 1) return OTHER; // not valid UTF-8: a lone byte
        int cp = decode(b, i, n);
        if (Character.isLetter(cp)) return LETTER;
        int type = Character.getType(cp);
        if (type == Character.NON_SPACING_MARK || type == Character.COMBINING_SPACING_MARK
                || type == Character.ENCLOSING_MARK) return LETTER;
        if (type == Character.DECIMAL_DIGIT_NUMBER) return DIGIT;
        if (Character.isWhitespace(cp) || Character.isSpaceChar(cp)) return WHITESPACE;
        return OTHER;
    }

    /** Length of the valid UTF-8 sequence at {@code i}, or 1 when the byte does not start one. */
    static int charLength(byte[] b, int i, int end) {
        int x = b[i] & 0xff;
        if (x < 0x80) return 1;
        int n, lo = 0x80, hi = 0xBF;
        if (x >= 0xC2 && x <= 0xDF) n = 2;
        else if (x >= 0xE0 && x <= 0xEF) {
            n = 3;
            if (x == 0xE0) lo = 0xA0; // no overlong forms
            if (x == 0xED) hi = 0x9F; // no surrogates
        } else if (x >= 0xF0 && x <= 0xF4) {
            n = 4;
            if (x == 0xF0) lo = 0x90;
            if (x == 0xF4) hi = 0x8F; // nothing above U+10FFFF
        } else return 1;
        if (i + n > end) return 1;
        int y = b[i + 1] & 0xff;
        if (y < lo || y > hi) return 1;
        for (int k = 2; k < n; k++) if ((b[i + k] & 0xC0) != 0x80) return 1;
        return n;
    }

    private static int decode(byte[] b, int i, int n) {
        int cp = b[i] & (0x7F >> n);
        for (int k = 1; k < n; k++) cp = (cp << 6) | (b[i + k] & 0x3F);
        return cp;
    }

    /**
     * Cut points that split {@code b[0, len)} into chunks of about {@code target} bytes for
     * parallel work. A cut lies only where every pass of {@link #next} from 0 ends a pre-token
     * (after a newline, before a printable ASCII byte), so chunked and whole processing agree.
     * Returns {@code [0, c1, ..., len]}.
     */
    static int[] chunks(byte[] b, int len, int target) {
        IntList cuts = new IntList(len / Math.max(1, target) + 2);
        cuts.add(0);
        int last = 0;
        while (len - last > target + target / 2) {
            int p = last + target, cut = -1;
            for (; p < len; p++) {
                if (b[p - 1] == '\n' && b[p] > ' ' && b[p] < 0x7F) {
                    cut = p;
                    break;
                }
            }
            if (cut < 0 || len - cut < target / 2) break; // no safe place left, or a tiny tail
            cuts.add(cut);
            last = cut;
        }
        cuts.add(len);
        return cuts.toArray();
    }
}
