package dev.palm4j.core.generate;

import dev.palm4j.core.InputException;
import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Picks the next token from logits: greedy at temperature 0, otherwise a draw from
 * softmax(logits / temperature) restricted to the top-k tokens and then to the smallest set
 * whose probability reaches top-p. Seeded: the same seed gives the same tokens.
 */
public final class Sampler {
    private final double temperature, topP;
    private final int topK;
    private final SplittableRandom rng;
    private Integer[] order = new Integer[0];
    private double[] probs = new double[0];

    /**
     * @param temperature 0 for greedy, else > 0
     * @param topK        keep the k most likely tokens; 0 keeps all
     * @param topP        keep the smallest most-likely set with this much probability; 1 keeps all
     */
    public Sampler(double temperature, int topK, double topP, long seed) {
        if (!(temperature >= 0) || Double.isInfinite(temperature))
            throw new InputException("--temperature " + temperature + " must be a finite number >= 0", "0 is greedy, 0.7-1.0 is typical");
        if (topK < 0) throw new InputException("--top-k " + topK + " must be >= 0", "0 keeps every token");
        if (!(topP > 0 && topP <= 1)) throw new InputException("--top-p " + topP + " must be in (0, 1]", "1 keeps every token");
        this.temperature = temperature;
        this.topK = topK;
        this.topP = topP;
        this.rng = new SplittableRandom(seed);
    }

    public static Sampler greedy() {
        return new Sampler(0, 0, 1, 0);
    }

    public int sample(float[] logits) {
        int V = logits.length;
        if (temperature == 0) return argmax(logits);
        if (order.length != V) {
            order = new Integer[V];
            probs = new double[V];
        }
        for (int i = 0; i < V; i++) order[i] = i;
        // Most likely first; ties by id so the order never depends on the sort's stability.
        Arrays.sort(order, (a, b) -> logits[a] != logits[b] ? Float.compare(logits[b], logits[a]) : Integer.compare(a, b));
        int keep = topK > 0 ? Math.min(topK, V) : V;
        double max = logits[order[0]], sum = 0;
        for (int r = 0; r < keep; r++) sum += probs[r] = Math.exp((logits[order[r]] - max) / temperature);
        if (topP < 1) {
            double mass = 0;
            int r = 0;
            while (r < keep && mass < topP * sum) mass += probs[r++];
            keep = Math.max(1, r);
            sum = mass;
        }
        double u = rng.nextDouble() * sum, acc = 0;
        for (int r = 0; r < keep; r++) {
            acc += probs[r];
            if (u < acc) return order[r];
        }
        return order[keep - 1];
    }

    static int argmax(float[] x) {
        int best = 0;
        for (int i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
        return best;
    }
}
