package dev.palm4j.train.checkpoint;

import dev.palm4j.core.InputException;

/**
 * Which checkpoints survive a save: the newest {@code keepLast}, plus the one with the lowest
 * value of {@code bestMetric} among those that recorded it (null: no best kept), plus whatever
 * {@code latest} names. Ties for best keep the earliest. Older ones are deleted.
 */
public record Retention(int keepLast, String bestMetric) {
    public Retention {
        if (keepLast < 1)
            throw new InputException("keeping " + keepLast + " checkpoints would delete the one just written",
                    "keep at least 1");
    }

    /** Never delete anything. */
    public static final Retention ALL = new Retention(Integer.MAX_VALUE, null);

    public static Retention keepLast(int n) {
        return new Retention(n, null);
    }
}
