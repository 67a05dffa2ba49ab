package dev.palm4j.cli;

import dev.palm4j.core.InputException;
import java.io.FileNotFoundException;
import java.io.PrintWriter;
import java.nio.file.AccessDeniedException;
import java.nio.file.NoSuchFileException;
import java.util.Locale;
import picocli.CommandLine;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.ParseResult;
import picocli.CommandLine.UnmatchedArgumentException;

/**
 * How {@code palm} reports failure: one line on stderr and an exit status.
 *
 * <ul>
 *   <li>2, {@code palm: error: <problem> (<hint>)}: bad usage (picocli's parse errors, or a
 *       {@link ParameterException} thrown by a command) or bad input ({@link InputException}
 *       anywhere in the cause chain; also a missing or unreadable file, and running out of heap,
 *       since the fix lies with the user).
 *   <li>1, {@code palm: internal error: <exception> (run with --verbose ...)}: anything else. That
 *       is a bug: library code must turn every foreseeable input problem into an InputException.
 * </ul>
 * With {@code --verbose} the stack trace follows the line.
 */
final class Errors {
    private Errors() {}

    static final int OK = 0, BUG = 1, USAGE = 2;

    /** Picocli's message when a command group is run without a subcommand. */
    static final String MISSING_COMMAND = "Missing required subcommand";

    /** Picocli could not parse the arguments, or a command threw a ParameterException. */
    static int onParameterException(ParameterException ex, String[] args) {
        CommandLine cmd = ex.getCommandLine();
        PrintWriter err = cmd.getErr();
        // "palm" or "palm bench" alone: the list of commands is what the user is missing.
        if (ex.getMessage() != null && ex.getMessage().startsWith(MISSING_COMMAND)) {
            cmd.usage(err);
            err.println();
        }
        err.println("palm: error: " + lowerFirst(ex.getMessage())
                + " (see '" + cmd.getCommandSpec().qualifiedName() + " --help')");
        UnmatchedArgumentException.printSuggestions(ex, err); // "Did you mean: ..." for typos
        if (Main.isVerbose(cmd)) ex.printStackTrace(err);
        err.flush();
        return USAGE;
    }

    /** A command threw an Exception. */
    static int onExecutionException(Exception ex, CommandLine cmd, ParseResult parsed) {
        return report(ex, cmd.getErr(), Main.isVerbose(cmd));
    }

    /** Prints the one-line report of any throwable and returns the exit status. */
    static int report(Throwable t, PrintWriter err, boolean verbose) {
        String problem = userProblem(t);
        if (problem != null) {
            err.println("palm: error: " + problem);
        } else {
            err.println("palm: internal error: " + describe(t)
                    + (verbose ? "" : " (run with --verbose for the stack trace)"));
        }
        if (verbose) t.printStackTrace(err);
        err.flush();
        return problem != null ? USAGE : BUG;
    }

    /** The user-facing message if t (or one of its causes) is the user's to fix, else null. */
    static String userProblem(Throwable t) {
        int depth = 0;
        for (Throwable c = t; c != null && depth < 20; c = c.getCause(), depth++) {
            if (c instanceof InputException e) return e.getMessage();
            if (c instanceof NoSuchFileException e) return "no such file: " + e.getFile() + " (check the path)";
            if (c instanceof AccessDeniedException e)
                return "permission denied: " + e.getFile() + " (check the file's permissions)";
            if (c instanceof FileNotFoundException e) return e.getMessage() + " (check the path)";
            if (c instanceof OutOfMemoryError e)
                return "out of memory: " + e.getMessage() + " (give the JVM more, e.g."
                        + " PALM_JAVA_OPTS=-Xmx16g, or shrink the model, batch or sequence length)";
            if (c instanceof LinkageError && String.valueOf(c.getMessage()).contains("jdk/incubator/vector"))
                return "the Vector API module is not loaded (use ./palm, or run java with"
                        + " --add-modules jdk.incubator.vector)";
        }
        return null;
    }

    /** "IllegalStateException: boom", looking through wrappers that carry no message. */
    static String describe(Throwable t) {
        Throwable c = t;
        while (c.getMessage() == null && c.getCause() != null) c = c.getCause();
        String name = c.getClass().getSimpleName();
        return c.getMessage() == null ? name : name + ": " + c.getMessage();
    }

    private static String lowerFirst(String s) {
        if (s == null || s.length() < 2) return s;
        // Keep acronyms ("JSON ...") as they are.
        if (Character.isUpperCase(s.charAt(0)) && Character.isLowerCase(s.charAt(1)))
            return s.substring(0, 1).toLowerCase(Locale.ROOT) + s.substring(1);
        return s;
    }
}
