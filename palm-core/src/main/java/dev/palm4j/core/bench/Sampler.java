package dev.palm4j.core.bench;

import java.util.ArrayList;
import java.util.List;

/**
 * Times a body the way every palm4j benchmark does: warm up (the JIT needs seconds), then take
 * samples, re-running any sample during which another process used the CPU, and report the median.
 */
public final class Sampler {
    private Sampler() {}

    /** Median seconds per call, how many samples were kept and how many were discarded as noisy. */
    public record Timing(double seconds, int kept, int discarded) {}

    /**
     * Warms {@code body} up for {@code warmupSeconds}, then times {@code samples} quiet runs
     * (each of enough calls to last about {@code sampleSeconds}); gives up waiting for quiet
     * samples after {@code 4 * samples} noisy ones and keeps the noisy ones instead.
     */
    public static Timing time(Runnable body, double warmupSeconds, int samples, double sampleSeconds) {
        long end = System.nanoTime() + (long) (warmupSeconds * 1e9);
        long t0 = System.nanoTime();
        int calls = 0;
        do {
            body.run();
            calls++;
        } while (System.nanoTime() < end);
        double perCall = (System.nanoTime() - t0) / 1e9 / calls;
        int reps = Math.max(1, (int) Math.round(sampleSeconds / Math.max(perCall, 1e-9)));
        List<Double> quiet = new ArrayList<>(), noisy = new ArrayList<>();
        while (quiet.size() < samples && noisy.size() < 4 * samples) {
            Quiet.Mark m = Quiet.mark();
            long s = System.nanoTime();
            for (int r = 0; r < reps; r++) body.run();
            double sec = (System.nanoTime() - s) / 1e9 / reps;
            (m.foreignSince() <= Quiet.THRESHOLD ? quiet : noisy).add(sec);
        }
        List<Double> used = quiet.size() >= Math.max(1, samples / 2) ? quiet : noisy;
        return new Timing(Stats.median(used), used == quiet ? quiet.size() : 0, noisy.size());
    }
}
