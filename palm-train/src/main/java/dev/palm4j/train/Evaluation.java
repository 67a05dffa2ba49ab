package dev.palm4j.train;

import dev.palm4j.core.InputException;
import dev.palm4j.core.model.PalmModel;
import dev.palm4j.train.data.BatchSource;
import dev.palm4j.train.data.ShardLoader;

/**
 * Loss of a model over a token stream, in order: consecutive windows of {@code T + 1} tokens
 * (the last, shorter one included), every target counted once.
 */
public final class Evaluation {
    private Evaluation() {}

    /** Mean loss, mean cross-entropy and the number of predicted tokens. */
    public record Result(double loss, double ce, long tokens) {
        public double perplexity() {
            return Math.exp(ce);
        }
    }

    /** Over a whole token array, in windows of at most {@code T} predictions, {@code B} windows at a time. */
    public static Result ofTokens(PalmModel model, int[] tokens, int B, int T) {
        if (tokens.length < 2) throw new InputException("the text is " + tokens.length + " token(s): nothing to predict",
                "evaluate at least two tokens of text");
        int[] inputs = new int[B * T], targets = new int[B * T];
        double loss = 0, ce = 0;
        long n = 0;
        int windows = (tokens.length - 2) / T + 1;
        for (int w0 = 0; w0 < windows; w0 += B) {
            int b = Math.min(B, windows - w0);
            java.util.Arrays.fill(targets, -1); // a short last window: the rest is ignored
            for (int r = 0; r < b; r++) {
                int start = (w0 + r) * T, len = Math.min(T, tokens.length - 1 - start);
                for (int t = 0; t < T; t++) {
                    inputs[r * T + t] = t < len ? tokens[start + t] : 0;
                    if (t < len) targets[r * T + t] = tokens[start + t + 1];
                }
            }
            PalmModel.Loss l = model.forward(inputs, targets, b, T);
            loss += l.loss() * l.tokens();
            ce += l.ce() * l.tokens();
            n += l.tokens();
        }
        return new Result(loss / n, ce / n, n);
    }

    /** Over the first {@code maxSequences} sequences of a prepared split, in stream order. */
    public static Result ofShards(PalmModel model, ShardLoader data, long maxSequences) {
        double[] s = sumsOfShards(model, data, maxSequences, 0, 1);
        return new Result(s[0] / s[2], s[1] / s[2], (long) s[2]);
    }

    /**
     * Data rank {@code rank}'s part of {@link #ofShards}: batches rank, rank + ranks, ... of the
     * first {@code maxSequences} sequences; returns the sums {loss * tokens, ce * tokens, tokens},
     * which add up over the ranks to the whole.
     */
    public static double[] sumsOfShards(PalmModel model, ShardLoader data, long maxSequences, int rank, int ranks) {
        int B = data.batchSize(), T = data.seqLen();
        long n = Math.min(data.sequences(), maxSequences);
        int[] rows = new int[B * (T + 1)], inputs = new int[B * T], targets = new int[B * T];
        double loss = 0, ce = 0;
        long tokens = 0;
        for (long s = (long) rank * B; s < n; s += (long) ranks * B) {
            int b = (int) Math.min(B, n - s);
            for (int r = 0; r < b; r++) data.readSequence(s + r, rows, r * (T + 1));
            BatchSource.split(rows, b, T, inputs, targets);
            PalmModel.Loss l = model.forward(inputs, targets, b, T);
            loss += l.loss() * l.tokens();
            ce += l.ce() * l.tokens();
            tokens += l.tokens();
        }
        return new double[] {loss, ce, tokens};
    }
}
