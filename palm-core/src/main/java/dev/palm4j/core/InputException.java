package dev.palm4j.core;

/**
 * The user gave palm4j something it cannot use: a missing or unreadable file, an invalid config
 * value, an impossible combination of options, a corrupt checkpoint.
 *
 * <p>Throw it from library code wherever the fix lies with the caller, not with palm4j. The
 * message has two parts: the {@linkplain #problem() problem}, naming the thing and the value
 * ("model.n_heads = 12 does not divide d_model = 512"), and a {@linkplain #hint() hint} saying
 * what to do ("pick n_heads among 1, 2, 4, 8, 16, ..."). The {@code palm} command line prints it
 * as one line, {@code palm: error: <problem> (<hint>)}, and exits with status 2. Any other
 * exception reaching the command line is treated as a bug in palm4j (exit status 1).
 *
 * <p>Subclass it for a family of errors that callers may want to catch on their own.
 */
public class InputException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final String problem;
    private final String hint;

    /** @param problem what is wrong, naming the input and its value
     *  @param hint what the user can do about it; null when there is nothing useful to say */
    public InputException(String problem, String hint) {
        this(problem, hint, null);
    }

    /** A message that already says both what is wrong and what to do. */
    public InputException(String message) {
        this(message, null, null);
    }

    public InputException(String problem, String hint, Throwable cause) {
        super(hint == null ? problem : problem + " (" + hint + ")", cause);
        this.problem = problem;
        this.hint = hint;
    }

    /** What is wrong, without the hint. */
    public String problem() {
        return problem;
    }

    /** What to do about it, or null. */
    public String hint() {
        return hint;
    }
}
