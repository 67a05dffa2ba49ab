package dev.palm4j.cli;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;
import java.util.function.LongSupplier;

/**
 * A progress display for long loops: step i/N, a smoothed rate, elapsed time, ETA and a free-form
 * status ("loss 3.21 lr 1e-3 mfu 31%").
 *
 * <p>On a terminal it redraws one line in place ({@code \r}) with a bar, at most 10 times a second,
 * cut to the terminal's width (the bar is dropped first).
 * Anywhere else (pipes, files, CI logs) it prints whole lines: the first update, then at most one
 * line per {@link #plainInterval(Duration) interval} (10 s by default), and always the last state
 * (when step reaches the total, or on {@link #close()}).
 *
 * <pre>{@code
 * try (Progress p = Progress.stderr("train", steps).rateUnit("tok", batch * seqLen)) {
 *     for (long s = 1; s <= steps; s++) {
 *         ...
 *         p.update(s, String.format("loss %.3f lr %.2e", loss, lr));
 *     }
 * }   // close() ends the line, so an error message that follows starts on a fresh one
 * }</pre>
 *
 * The rate is an exponential moving average over time (time constant 10 s), so a slow first step
 * (JIT warm-up) fades out within seconds, and the ETA divides the steps left by it. Methods are
 * synchronized: another thread may call {@link #message} while the loop updates.
 */
public final class Progress implements AutoCloseable {
    /** Environment variable that forces the display: {@code plain} or {@code terminal}. */
    public static final String MODE_ENV = "PALM_PROGRESS";

    private static final double SMOOTHING_SECONDS = 10;
    private static final long REDRAW_NANOS = 100_000_000L;
    private static final int BAR_WIDTH = 20;

    private final String label;
    private final long total;
    private final PrintStream out;
    private final boolean terminal;
    private final LongSupplier nanos;
    private final long startNanos;

    private String unit = "steps";
    private double unitsPerStep = 1;
    private long plainIntervalNanos = 10_000_000_000L;
    private int columns = 80;

    private long step;
    private String status = "";
    private long rateStep, rateNanos;      // where the last rate sample ended
    private double stepsPerSecond = Double.NaN;
    private long lastShownNanos;
    private boolean anyShown, currentShown = true, lineOpen, closed;
    private int lastLength;

    /** A display on stderr, in terminal mode when stderr is a terminal (see {@link #MODE_ENV}). */
    public static Progress stderr(String label, long total) {
        Progress p = new Progress(label, total, System.err, stderrIsTerminal(), System::nanoTime);
        return p.columns(terminalColumns());
    }

    /**
     * @param label short name shown first ("train"), may be empty
     * @param total the step count at which the loop ends; 0 or less when unknown (no bar, no ETA)
     * @param terminal redraw one line in place rather than print lines
     * @param nanos the clock, as {@link System#nanoTime()}
     */
    public Progress(String label, long total, PrintStream out, boolean terminal, LongSupplier nanos) {
        this.label = label;
        this.total = total;
        this.out = out;
        this.terminal = terminal;
        this.nanos = nanos;
        this.startNanos = rateNanos = nanos.getAsLong();
    }

    /** Show the rate in another unit: {@code perStep} of them are done each step (tokens, bytes). */
    public synchronized Progress rateUnit(String unit, double perStep) {
        this.unit = unit;
        this.unitsPerStep = perStep;
        return this;
    }

    /** The loop starts at this step (a resumed run), so the rate counts only steps done here. */
    public synchronized Progress startAt(long step) {
        this.step = this.rateStep = step;
        return this;
    }

    /** The least time between two lines in plain mode. */
    public synchronized Progress plainInterval(Duration interval) {
        this.plainIntervalNanos = interval.toNanos();
        return this;
    }

    /** Terminal width: the redrawn line must fit, since a wrapped line cannot be redrawn. */
    public synchronized Progress columns(int columns) {
        this.columns = Math.max(20, columns);
        return this;
    }

    /** Step {@code step} is done; keeps the previous status. */
    public void update(long step) {
        update(step, null);
    }

    /**
     * Step {@code step} is done (counting from 1 up to the total). A step lower than the last one
     * (a rollback) moves the display back without disturbing the rate. A null status keeps the
     * previous one.
     */
    public synchronized void update(long step, String status) {
        if (closed) return;
        long now = nanos.getAsLong();
        if (status != null) this.status = status;
        if (step < rateStep) { // rolled back: start a new rate sample from here
            rateStep = step;
            rateNanos = now;
        } else if (step > rateStep && now > rateNanos) {
            double sample = (step - rateStep) / ((now - rateNanos) / 1e9);
            // Time-weighted EMA: a sample spanning dt counts 1 - exp(-dt / tau), so the estimate
            // does not depend on how often update() is called.
            double w = 1 - Math.exp(-(now - rateNanos) / 1e9 / SMOOTHING_SECONDS);
            stepsPerSecond = Double.isNaN(stepsPerSecond) ? sample : stepsPerSecond + w * (sample - stepsPerSecond);
            rateStep = step;
            rateNanos = now;
        } // else: same step again (a status refresh) or no time passed; the next sample covers it
        this.step = step;
        currentShown = false;
        boolean last = total > 0 && step >= total;
        long gap = terminal ? REDRAW_NANOS : plainIntervalNanos;
        if (last || !anyShown || now - lastShownNanos >= gap) show(now);
    }

    /** Prints a line of its own (a checkpoint saved, an eval result) above the progress line. */
    public synchronized void message(String text) {
        if (terminal && lineOpen) {
            out.print("\r" + " ".repeat(lastLength) + "\r");
            lineOpen = false;
            lastLength = 0;
        }
        out.println(text);
        if (terminal && anyShown && !closed) show(nanos.getAsLong());
        out.flush();
    }

    /** Shows the last state if it was not shown yet and, on a terminal, ends the line. */
    @Override
    public synchronized void close() {
        if (closed) return;
        if (!currentShown) show(nanos.getAsLong());
        if (lineOpen) out.println();
        lineOpen = false;
        closed = true;
        out.flush();
    }

    /** The current line without bar or carriage return, as plain mode prints it. */
    public synchronized String line() {
        return describe(nanos.getAsLong(), false);
    }

    /** Steps per second, smoothed; NaN before the first sample. */
    public synchronized double stepsPerSecond() {
        return stepsPerSecond;
    }

    /** Seconds left at the current rate; NaN when unknown. */
    public synchronized double etaSeconds() {
        if (total <= 0 || !(stepsPerSecond > 0)) return Double.NaN;
        return Math.max(0, total - step) / stepsPerSecond;
    }

    private void show(long now) {
        if (terminal) {
            // Too wide for the terminal: the bar goes first, then the end of the status.
            String s = describe(now, true);
            if (s.length() > columns - 1) s = describe(now, false);
            if (s.length() > columns - 1) s = s.substring(0, columns - 1);
            int pad = Math.max(0, lastLength - s.length()); // blank what a longer line left behind
            out.print("\r" + s + " ".repeat(pad));
            lastLength = s.length();
            lineOpen = true;
        } else {
            out.println(describe(now, false));
        }
        out.flush();
        lastShownNanos = now;
        anyShown = currentShown = true;
    }

    private String describe(long now, boolean bar) {
        StringBuilder b = new StringBuilder(label);
        if (b.length() > 0) b.append(' ');
        if (total > 0) {
            double f = Math.min(1, Math.max(0, (double) step / total));
            if (bar) {
                int full = (int) Math.round(f * BAR_WIDTH);
                b.append('[').append("#".repeat(full)).append("-".repeat(BAR_WIDTH - full)).append("] ");
            }
            b.append(step).append('/').append(total).append(String.format(Locale.ROOT, " %3d%%", (int) (100 * f)));
        } else {
            b.append("step ").append(step);
        }
        b.append(' ').append(formatRate(stepsPerSecond * unitsPerStep)).append(' ').append(unit).append("/s");
        b.append(" elapsed ").append(formatDuration((now - startNanos) / 1e9));
        if (total > 0) b.append(" eta ").append(formatDuration(etaSeconds()));
        if (!status.isEmpty()) b.append("  ").append(status);
        return b.toString();
    }

    /** h:mm:ss, e.g. 0:03:07 or 27:46:40; "?:??:??" when unknown. */
    public static String formatDuration(double seconds) {
        if (Double.isNaN(seconds) || Double.isInfinite(seconds)) return "?:??:??";
        long s = (long) Math.max(0, seconds);
        return String.format(Locale.ROOT, "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60);
    }

    /** Three significant digits or so, with k/M/G above 10 000: 0.25, 31.6, 812, 12.3k, 4.57M. */
    public static String formatRate(double r) {
        if (Double.isNaN(r)) return "?";
        if (r < 10) return String.format(Locale.ROOT, "%.2f", r);
        if (r < 100) return String.format(Locale.ROOT, "%.1f", r);
        if (r < 10_000) return String.format(Locale.ROOT, "%.0f", r);
        if (r < 1e6) return String.format(Locale.ROOT, "%.1fk", r / 1e3);
        if (r < 1e9) return String.format(Locale.ROOT, "%.2fM", r / 1e6);
        return String.format(Locale.ROOT, "%.2fG", r / 1e9);
    }

    /**
     * Whether stderr is a terminal. {@link System#console()} looks at stdin and stdout, not stderr,
     * so on Linux ask /proc which device fd 2 is; elsewhere fall back to the console test.
     */
    static boolean stderrIsTerminal() {
        String mode = System.getenv(MODE_ENV);
        if ("plain".equalsIgnoreCase(mode)) return false;
        if ("terminal".equalsIgnoreCase(mode)) return true;
        if ("dumb".equals(System.getenv("TERM"))) return false;
        try {
            String target = Files.readSymbolicLink(Path.of("/proc/self/fd/2")).toString();
            return target.startsWith("/dev/pts/") || target.startsWith("/dev/tty");
        } catch (IOException | UnsupportedOperationException | SecurityException e) {
            return System.console() != null;
        }
    }

    /** $COLUMNS (the ./palm launcher exports it), else 80. */
    static int terminalColumns() {
        try {
            String c = System.getenv("COLUMNS");
            return c == null ? 80 : Integer.parseInt(c.trim());
        } catch (NumberFormatException e) {
            return 80;
        }
    }
}
