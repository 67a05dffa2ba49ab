package dev.palm4j.train.parallel;

/**
 * A collective that could not complete: a member timed out (a device that hangs or died) or the
 * group was cancelled (the controller saw a failure elsewhere). Every member waiting in the same
 * collective gets one, so a failed device never hangs the others.
 */
public final class CollectiveException extends RuntimeException {
    public CollectiveException(String message, Throwable cause) {
        super(message, cause);
    }
}
