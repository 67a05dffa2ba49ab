package dev.palm4j.cli;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.ScopeType;
import picocli.CommandLine.Spec;

/**
 * The {@code palm} command: global options, the list of subcommands, and the error conventions.
 *
 * <p>A new command is a picocli {@code @Command} class (Runnable or Callable&lt;Integer&gt;) listed in
 * {@code subcommands} below, or in the group it belongs to (see {@link BenchCommand}). It gets
 * {@code --help}, {@code --version} and {@code --verbose} for free. To reject bad input it throws
 * {@link dev.palm4j.core.InputException} (exit 2); anything else that escapes is reported as a bug
 * (exit 1). See {@link Errors}.
 */
@Command(name = "palm",
        headerHeading = "%n",
        header = "palm4j: train and run PaLM-style language models in pure Java.",
        synopsisHeading = "%nUsage: ",
        descriptionHeading = "%n",
        description = {
            "palm4j trains decoder-only Transformers in the PaLM style (parallel attention and SwiGLU"
                + " blocks, multi-query attention, RoPE, shared embeddings, z-loss) on the CPU:"
                + " SIMD kernels written with the JDK Vector API, explicit forward and backward"
                + " passes, data and tensor parallelism over simulated devices. No native code.",
        },
        optionListHeading = "%nGlobal options (accepted by every command):%n",
        commandListHeading = "%nCommands:%n",
        exitCodeListHeading = "%nExit status:%n",
        exitCodeList = {
            "0:success",
            "1:internal error: a bug in palm4j (rerun with --verbose and report the stack trace)",
            "2:bad usage or bad input (the message says what is wrong and what to do)",
        },
        footerHeading = "%nEnvironment (read by the ./palm launcher and the commands):%n",
        footer = {
            "  PALM_JAVA_OPTS   extra JVM options, e.g. -Xmx8g or -Dpalm4j.vector.bits=256",
            "  JAVA_HOME        the JDK to run (17 or newer); otherwise java on the PATH",
            "  PALM_PROGRESS    plain: a progress line every few seconds; terminal: a bar",
            "                   redrawn in place; default: a bar when stderr is a terminal",
            "",
            "Examples:",
            "  palm --version                      palm4j version, JDK and SIMD vector width",
            "  palm bench --help                   help for one command",
            "  PALM_JAVA_OPTS=-Dpalm4j.vector.bits=256 palm --version",
            "                                      run the kernels with 256-bit vectors",
        },
        subcommands = {TrainCommand.class, GenerateCommand.class, EvalCommand.class, InfoCommand.class, TokenizerCommand.class, PrepareCommand.class, BenchCommand.class, PlotCommand.class})
public final class Main implements Runnable {
    // scope = INHERIT copies these options onto every subcommand; picocli then writes the value
    // into this object whichever command the user typed them after.
    @Option(names = {"-h", "--help"}, usageHelp = true, scope = ScopeType.INHERIT,
            description = "Show help for the command and exit.")
    boolean help;

    @Option(names = {"-V", "--version"}, versionHelp = true, scope = ScopeType.INHERIT,
            description = "Print the palm4j version, the JDK and the SIMD vector width, and exit.")
    boolean version;

    @Option(names = "--verbose", scope = ScopeType.INHERIT,
            description = "Print the stack trace along with any error.")
    boolean verbose;

    @Spec CommandSpec spec;

    /** "palm" alone: say so and list the commands (picocli does this for groups, not for the root). */
    @Override
    public void run() {
        throw new ParameterException(spec.commandLine(), Errors.MISSING_COMMAND);
    }

    public static void main(String[] args) {
        int code;
        try {
            code = execute(newCommandLine(), args);
        } catch (RuntimeException | Error e) { // a malformed @Command: a bug, reported the usual way
            code = Errors.report(e, new PrintWriter(System.err, true), true);
        }
        System.out.flush();
        System.exit(code);
    }

    /**
     * The configured {@code palm} command tree. Tests pass extra subcommands (instances or
     * classes) here; shipped commands are listed in the annotations instead.
     */
    public static CommandLine newCommandLine(Object... extraSubcommands) {
        CommandLine root = new CommandLine(new Main());
        for (Object sub : extraSubcommands) root.addSubcommand(sub);
        root.setCaseInsensitiveEnumValuesAllowed(true)
                .setParameterExceptionHandler(Errors::onParameterException)
                .setExecutionExceptionHandler(Errors::onExecutionException);
        prepare(root);
        return root;
    }

    /**
     * Runs one command line and returns the exit status. Unlike {@link CommandLine#execute}, this
     * also reports {@link Error}s (assertions, out of memory, failed class initialisation), which
     * picocli lets through.
     */
    public static int execute(CommandLine root, String... args) {
        try {
            return root.execute(args);
        } catch (Throwable t) {
            return Errors.report(t, root.getErr(), isVerbose(root));
        } finally {
            root.getOut().flush();
            root.getErr().flush();
        }
    }

    /** Whether {@code --verbose} was given, asked from any command in the tree. */
    public static boolean isVerbose(CommandLine anyCommand) {
        CommandLine c = anyCommand;
        while (c.getParent() != null) c = c.getParent();
        return c.getCommand() instanceof Main m && m.verbose;
    }

    private static void prepare(CommandLine cmd) {
        // One version for the whole tree, so "palm <anything> --version" prints it too.
        cmd.getCommandSpec().versionProvider(new VersionProvider());
        for (String name : new ArrayList<>(cmd.getSubcommands().keySet())) {
            CommandLine sub = cmd.getSubcommands().get(name);
            if (sub == null) continue; // an alias of a command already removed
            // A group whose subcommands are not written yet would only print an error: hide it.
            Object o = sub.getCommand();
            boolean runnable = o instanceof Runnable || o instanceof Callable;
            if (!runnable && sub.getSubcommands().isEmpty()) {
                cmd.getCommandSpec().removeSubcommand(name);
                continue;
            }
            prepare(sub);
        }
    }
}
