package dev.palm4j.core.generate;

import dev.palm4j.core.InputException;
import dev.palm4j.core.model.InferenceSession;
import dev.palm4j.core.model.PalmModel;
import dev.palm4j.core.tokenizer.Tokenizer;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * Text in, text out, streamed: the prompt is prefilled through the KV cache in one pass, then
 * tokens are sampled one at a time until {@code <eod>}, a stop string, or the token limit. Bytes
 * reach the {@link Listener} as soon as no stop string can still begin inside them, so a stop
 * string itself is never emitted.
 */
public final class Generator {

    /** Receives the continuation as it is produced. */
    @FunctionalInterface
    public interface Listener {
        /** {@code bytes} of text decoded from {@code token} (possibly part of a UTF-8 character). */
        void onText(int token, byte[] bytes);
    }

    /** Why generation stopped. */
    public enum Stop { EOD, STOP_STRING, MAX_TOKENS, CONTEXT_FULL }

    /** The outcome: generated token ids, the text emitted, and why it stopped. */
    public record Result(int[] tokens, byte[] text, Stop stop, double seconds) {
        public String textString() {
            return new String(text, StandardCharsets.UTF_8);
        }
    }

    private final PalmModel model;
    private final Tokenizer tokenizer;

    public Generator(PalmModel model, Tokenizer tokenizer) {
        if (tokenizer.vocabSize() != model.config.vocab())
            throw new InputException("the tokenizer has " + tokenizer.vocabSize() + " tokens but the model's vocab is "
                    + model.config.vocab(), "use the tokenizer saved with the checkpoint");
        this.model = model;
        this.tokenizer = tokenizer;
    }

    /**
     * Continues {@code prompt} with up to {@code maxTokens} tokens. A prompt longer than the model's
     * context is an error (no sliding window).
     */
    public Result generate(String prompt, int maxTokens, Sampler sampler, List<String> stops, Listener listener) {
        if (maxTokens < 0) throw new InputException("--max-tokens " + maxTokens + " must be >= 0", "pass 0 or more");
        int[] ids = tokenizer.encode(prompt);
        if (ids.length == 0) ids = new int[] {tokenizer.eodId()}; // an empty prompt starts a new document
        int ctx = model.config.maxSeqLen();
        if (ids.length > ctx)
            throw new InputException("the prompt is " + ids.length + " tokens, longer than the model's context of " + ctx,
                    "shorten the prompt");
        long t0 = System.nanoTime();
        InferenceSession session = model.newSession(Math.min(ctx, ids.length + Math.max(1, maxTokens)));
        byte[][] stopBytes = stops.stream().filter(s -> !s.isEmpty()).map(s -> s.getBytes(StandardCharsets.UTF_8)).toArray(byte[][]::new);
        int hold = 0;
        for (byte[] s : stopBytes) hold = Math.max(hold, s.length - 1);
        ByteArrayOutputStream text = new ByteArrayOutputStream();
        int emitted = 0; // bytes of text already handed to the listener
        int[] out = new int[maxTokens];
        int n = 0;
        Stop why = Stop.MAX_TOKENS;
        float[] logits = session.append(ids, 0, ids.length);
        int lastToken = -1;
        while (n < maxTokens) {
            int next = sampler.sample(logits);
            if (next == tokenizer.eodId()) {
                why = Stop.EOD;
                break;
            }
            out[n++] = next;
            text.writeBytes(tokenizer.tokenBytes(next));
            byte[] all = text.toByteArray();
            int cut = findStop(all, stopBytes, Math.max(0, emitted - hold));
            if (cut >= 0) {
                emit(listener, next, all, emitted, cut);
                text.reset();
                text.write(all, 0, cut);
                why = Stop.STOP_STRING;
                break;
            }
            int safe = all.length - hold;
            if (safe > emitted) {
                emit(listener, next, all, emitted, safe);
                emitted = safe;
            }
            lastToken = next;
            if (n == maxTokens) break;
            if (session.length() >= session.capacity()) {
                why = Stop.CONTEXT_FULL;
                break;
            }
            logits = session.append(new int[] {next}, 0, 1);
        }
        byte[] all = text.toByteArray();
        if (why != Stop.STOP_STRING && all.length > emitted) emit(listener, lastToken, all, emitted, all.length);
        return new Result(java.util.Arrays.copyOf(out, n), all, why, (System.nanoTime() - t0) / 1e9);
    }

    private static void emit(Listener l, int token, byte[] all, int from, int to) {
        if (l != null && to > from) l.onText(token, java.util.Arrays.copyOfRange(all, from, to));
    }

    // Earliest start >= from of any stop string in text, or -1.
    private static int findStop(byte[] text, byte[][] stops, int from) {
        int best = -1;
        for (byte[] s : stops) {
            outer:
            for (int i = from; i + s.length <= text.length; i++) {
                for (int j = 0; j < s.length; j++) if (text[i + j] != s[j]) continue outer;
                if (best < 0 || i < best) best = i;
                break;
            }
        }
        return best;
    }
}
