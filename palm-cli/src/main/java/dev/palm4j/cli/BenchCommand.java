package dev.palm4j.cli;

import picocli.CommandLine.Command;

/**
 * {@code palm bench}: the group of benchmark commands.
 *
 * <p>Add a benchmark by writing a picocli {@code @Command(name = "...")} class that implements
 * {@code Callable<Integer>} or {@code Runnable} and listing it in {@code subcommands} below. The
 * group itself does nothing: {@code palm bench} alone is a usage error (exit 2) that prints the
 * list. While the list is empty, {@link Main} hides the group.
 */
@Command(name = "bench",
        header = "Measure palm4j's speed on this machine.",
        description = {
            "Benchmarks print human-readable results; with --json, one JSON object as the last"
                + " line of stdout. Close other CPU-heavy programs first: the results assume"
                + " the cores are free.",
        },
        synopsisSubcommandLabel = "COMMAND",
        subcommands = {BenchPeakCommand.class, BenchKernelsCommand.class, BenchTrainCommand.class, BenchGenerateCommand.class})
public final class BenchCommand {}
