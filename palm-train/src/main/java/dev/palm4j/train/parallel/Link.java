package dev.palm4j.train.parallel;

/**
 * The link model of one mesh axis: a message of {@code n} bytes takes
 * {@code latency + n / bandwidth} seconds. The simulated devices copy through memory, so this
 * time is computed, not waited for; the trainer reports it beside the measured compute time to
 * show where communication would go on real hardware (a fast axis inside a pod, a slower one
 * across pods, as PaLM's two pods were joined).
 *
 * @param latencySeconds per message
 * @param bytesPerSecond per direction of one link
 */
public record Link(double latencySeconds, double bytesPerSecond) {
    public Link {
        if (!(latencySeconds >= 0) || Double.isInfinite(latencySeconds))
            throw new IllegalArgumentException("link latency " + latencySeconds);
        if (!(bytesPerSecond > 0)) throw new IllegalArgumentException("link bandwidth " + bytesPerSecond);
    }

    /** Seconds one message of {@code bytes} takes on this link. */
    public double seconds(long bytes) {
        return latencySeconds + bytes / bytesPerSecond;
    }

    /** From config units: microseconds and GB/s (10^9 bytes per second). */
    public static Link of(double latencyMicros, double gigabytesPerSecond) {
        return new Link(latencyMicros * 1e-6, gigabytesPerSecond * 1e9);
    }
}
