package dev.palm4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.palm4j.core.InputException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.nio.file.NoSuchFileException;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

class MainTest {

    /** A test-only command that fails in the way its argument names. */
    @Command(name = "fail", description = "Fails on purpose.")
    static class Fail implements Runnable {
        @Parameters(index = "0") String how;
        @Option(names = "--times") int times = 1;
        @Spec CommandSpec spec;

        @Override
        public void run() {
            switch (how) {
                case "ok" -> { }
                case "input" -> throw new InputException("no such config: x.yaml", "check the path");
                case "wrapped" -> throw new IllegalStateException("worker failed",
                        new InputException("model.n_heads = 3 does not divide d_model = 64"));
                case "file" -> throw new UncheckedIOException(new NoSuchFileException("data/missing.bin"));
                case "bug" -> throw new IllegalStateException("boom");
                case "assert" -> throw new AssertionError("invariant broken");
                case "usage" -> throw new CommandLine.ParameterException(
                        spec.commandLine(), "--times must be positive");
                default -> throw new IllegalArgumentException(how);
            }
        }
    }

    record Result(int code, String out, String err) {}

    static Result run(String... args) {
        CommandLine cl = Main.newCommandLine(new Fail());
        StringWriter out = new StringWriter(), err = new StringWriter();
        cl.setOut(new PrintWriter(out));
        cl.setErr(new PrintWriter(err));
        int code = Main.execute(cl, args);
        return new Result(code, out.toString(), err.toString());
    }

    static long lines(String s) {
        return s.lines().count();
    }

    @Test
    void helpExplainsAndExitsZero() {
        Result r = run("--help");
        assertEquals(0, r.code);
        assertTrue(r.out.contains("palm4j trains"), r.out);
        assertTrue(r.out.contains("Commands:") && r.out.contains("fail"), r.out);
        assertTrue(r.out.contains("Examples:"), r.out);
        assertTrue(r.out.contains("Exit status:"), r.out);
        assertEquals("", r.err);
    }

    @Test
    void versionNamesPalmJdkAndVectorWidth() {
        for (String[] args : new String[][] {{"--version"}, {"-V"}, {"fail", "--version"}}) {
            Result r = run(args);
            assertEquals(0, r.code);
            String[] l = r.out.split("\\R");
            assertTrue(l[0].matches("palm4j \\d+\\.\\d+\\.\\d+.*"), r.out);
            assertTrue(l[1].startsWith("JDK " + Runtime.version()), r.out);
            assertTrue(l[2].matches("vectors: \\d+-bit floats.*"), r.out);
        }
    }

    @Test
    void successExitsZero() {
        Result r = run("fail", "ok");
        assertEquals(0, r.code);
        assertEquals("", r.err);
    }

    @Test
    void noCommandPrintsUsageAndExitsTwo() {
        Result r = run();
        assertEquals(2, r.code);
        assertTrue(r.err.contains("Usage: palm"), r.err);
        assertTrue(r.err.endsWith("palm: error: missing required subcommand (see 'palm --help')" + System.lineSeparator()), r.err);
    }

    @Test
    void unknownOptionExitsTwoWithHint() {
        Result r = run("--frobnicate");
        assertEquals(2, r.code);
        assertEquals("palm: error: unknown option: '--frobnicate' (see 'palm --help')", r.err.strip());
        Result typo = run("--verbos");
        assertTrue(typo.err.contains("--verbose"), "suggests the near match: " + typo.err);
    }

    @Test
    void badOptionValueNamesTheCommand() {
        Result r = run("fail", "ok", "--times", "many");
        assertEquals(2, r.code);
        assertTrue(r.err.startsWith("palm: error: invalid value for option '--times'"), r.err);
        assertTrue(r.err.strip().endsWith("(see 'palm fail --help')"), r.err);
        assertEquals(1, lines(r.err));
    }

    @Test
    void parameterExceptionFromCommandIsUsageError() {
        Result r = run("fail", "usage");
        assertEquals(2, r.code);
        assertEquals("palm: error: --times must be positive (see 'palm fail --help')", r.err.strip());
    }

    @Test
    void inputExceptionIsOneLineExitTwo() {
        Result r = run("fail", "input");
        assertEquals(2, r.code);
        assertEquals("palm: error: no such config: x.yaml (check the path)", r.err.strip());
        assertEquals(1, lines(r.err));
    }

    @Test
    void inputExceptionFoundInCauseChain() {
        Result r = run("fail", "wrapped");
        assertEquals(2, r.code);
        assertEquals("palm: error: model.n_heads = 3 does not divide d_model = 64", r.err.strip());
        Result f = run("fail", "file");
        assertEquals(2, f.code);
        assertEquals("palm: error: no such file: data/missing.bin (check the path)", f.err.strip());
    }

    @Test
    void bugIsOneLineExitOne() {
        Result r = run("fail", "bug");
        assertEquals(1, r.code);
        assertEquals("palm: internal error: IllegalStateException: boom (run with --verbose for the stack trace)",
                r.err.strip());
        Result a = run("fail", "assert");   // an Error, which picocli does not catch
        assertEquals(1, a.code);
        assertTrue(a.err.startsWith("palm: internal error: AssertionError: invariant broken"), a.err);
        assertEquals(1, lines(a.err));
    }

    @Test
    void verboseAddsStackTraceWhereverItIsGiven() {
        for (String[] args : new String[][] {{"--verbose", "fail", "bug"}, {"fail", "bug", "--verbose"}}) {
            Result r = run(args);
            assertEquals(1, r.code);
            assertTrue(r.err.startsWith("palm: internal error: IllegalStateException: boom" + System.lineSeparator()), r.err);
            assertFalse(r.err.contains("run with --verbose"), r.err);
            assertTrue(r.err.contains("at dev.palm4j.cli.MainTest$Fail.run"), r.err);
        }
        Result in = run("--verbose", "fail", "input");
        assertEquals(2, in.code);
        assertTrue(in.err.contains("InputException") && lines(in.err) > 1, in.err);
    }

    @Test
    void emptyCommandGroupsAreHidden() {
        @Command(name = "group") class EmptyGroup {}
        CommandLine cl = Main.newCommandLine(new EmptyGroup());
        assertFalse(cl.getSubcommands().containsKey("group"));
    }
}
