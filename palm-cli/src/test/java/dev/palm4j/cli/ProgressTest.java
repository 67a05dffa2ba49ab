package dev.palm4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

class ProgressTest {
    static final long SECOND = 1_000_000_000L;

    /** A clock the test moves by hand. */
    static final class Clock {
        long nanos = 1_000 * SECOND; // not zero, so nothing depends on the clock's origin

        void advance(double seconds) {
            nanos += (long) (seconds * SECOND);
        }
    }

    final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    final Clock clock = new Clock();

    Progress progress(long total, boolean terminal) {
        return new Progress("train", total, new PrintStream(bytes, true, StandardCharsets.UTF_8), terminal,
                () -> clock.nanos);
    }

    String output() {
        return bytes.toString(StandardCharsets.UTF_8);
    }

    List<String> lines() {
        return output().lines().toList();
    }

    @Test
    void constantRateGivesExactRateAndEta() {
        Progress p = progress(100, false);
        for (int s = 1; s <= 10; s++) {
            clock.advance(0.5);
            p.update(s, "loss 3.21");
        }
        assertEquals(2.0, p.stepsPerSecond(), 1e-9);
        assertEquals(45.0, p.etaSeconds(), 1e-9); // 90 steps left at 2 steps/s
        assertEquals("train 10/100  10% 2.00 steps/s elapsed 0:00:05 eta 0:00:45  loss 3.21", p.line());
    }

    @Test
    void rateInCallerUnitAndLongDurations() {
        Progress p = progress(10_000, false).rateUnit("tok", 4096);
        for (int s = 1; s <= 4; s++) {
            clock.advance(2);
            p.update(s);
        }
        // 0.5 steps/s * 4096 tokens per step; 9996 steps left take 19992 s
        assertTrue(p.line().contains(" 2048 tok/s "), p.line());
        p.rateUnit("tok", 40960);
        assertTrue(p.line().contains(" 20.5k tok/s "), p.line());
        assertTrue(p.line().contains(" eta 5:33:12"), p.line());
    }

    @Test
    void rateFollowsAChangeSmoothly() {
        Progress p = progress(0, false);
        long s = 0;
        for (int i = 0; i < 20; i++) { clock.advance(1); p.update(++s); }   // 1 step/s
        for (int i = 0; i < 5; i++) { clock.advance(0.5); p.update(++s); }  // now 2 steps/s
        double r = p.stepsPerSecond();
        assertTrue(r > 1.1 && r < 1.9, "between old and new rate: " + r);
        for (int i = 0; i < 200; i++) { clock.advance(0.5); p.update(++s); }
        assertEquals(2.0, p.stepsPerSecond(), 1e-3);
        assertTrue(Double.isNaN(p.etaSeconds()), "no total, no ETA");
        assertTrue(p.line().startsWith("train step 225 2.00 steps/s"), p.line());
    }

    @Test
    void rollbackAndResumeDoNotDistortTheRate() {
        Progress p = progress(100, false).startAt(50); // resumed run: 50 steps already done
        clock.advance(10);                              // 10 s of loading before the first step
        p.update(51);
        assertEquals(0.1, p.stepsPerSecond(), 1e-9);   // the slow first step, not 51 steps in 10 s
        clock.advance(1);
        p.update(40);                                    // rolled back to step 40
        assertEquals(0.1, p.stepsPerSecond(), 1e-9);
        assertTrue(p.line().contains(" 40/100 "), p.line());
    }

    @Test
    void plainModeThrottlesAndAlwaysPrintsTheLast() {
        Progress p = progress(35, false).plainInterval(Duration.ofSeconds(10));
        for (int s = 1; s <= 35; s++) {
            clock.advance(1);
            p.update(s, "loss " + s);
        }
        p.close();
        List<String> l = lines();
        // the first step, then one line per 10 s, then the final step
        assertEquals(List.of(1L, 11L, 21L, 31L, 35L), l.stream().map(ProgressTest::stepOf).toList(), output());
        assertFalse(output().contains("\r"));
        assertTrue(l.get(4).endsWith("eta 0:00:00  loss 35"), l.get(4));
    }

    @Test
    void plainModeCloseFlushesAnInterruptedLoop() {
        Progress p = progress(100, false).plainInterval(Duration.ofSeconds(10));
        for (int s = 1; s <= 17; s++) {
            clock.advance(1);
            p.update(s);
        }
        p.close();
        p.close(); // idempotent
        assertEquals(List.of(1L, 11L, 17L), lines().stream().map(ProgressTest::stepOf).toList(), output());
    }

    @Test
    void terminalModeRedrawsOneLineWithABar() {
        Progress p = progress(10, true).columns(120);
        for (int s = 1; s <= 10; s++) {
            clock.advance(1);
            p.update(s, s == 1 ? "loss 10.50" : "loss 3.2"); // a shorter status must not leave debris
        }
        String o = output();
        assertEquals(10, o.chars().filter(c -> c == '\r').count(), o);
        assertFalse(o.contains("\n"), "no newline before close");
        assertTrue(o.contains("eta 0:00:08  loss 3.2  \r"), "blanks what the longer status left: " + o);
        assertTrue(o.contains("\rtrain [##########----------] 5/10  50% 1.00 steps/s elapsed 0:00:05 eta 0:00:05  loss 3.2\r"), o);
        p.close();
        assertTrue(output().endsWith("[####################] 10/10 100% 1.00 steps/s elapsed 0:00:10 eta 0:00:00  loss 3.2\n"
                .replace("\n", System.lineSeparator())), output());
    }

    @Test
    void terminalModeLimitsRedrawsButShowsTheEnd() {
        Progress p = progress(1000, true);
        for (int s = 1; s <= 1000; s++) {
            clock.advance(0.001); // 1000 steps in one second
            p.update(s);
        }
        long redraws = output().chars().filter(c -> c == '\r').count();
        assertTrue(redraws <= 12, "about 10 redraws a second: " + redraws);
        assertTrue(output().contains("1000/1000"), "the final state is drawn");
    }

    @Test
    void terminalLineFitsTheWidthAndMessagesGoAbove() {
        Progress p = progress(10, true).columns(40);
        clock.advance(1);
        p.update(1, "a very long status that would wrap the terminal line");
        assertEquals(39, output().length() - 1, "cut to columns - 1 after the \\r");
        assertFalse(output().contains("["), "the bar is dropped before the status is cut");
        p.message("saved checkpoint step-00000001");
        String o = output();
        int msg = o.indexOf("saved checkpoint");
        assertTrue(o.substring(0, msg).endsWith("\r" + " ".repeat(39) + "\r"), "line blanked first: " + o);
        assertTrue(o.substring(msg).contains("\rtrain 1/10"), "progress redrawn below: " + o);
    }

    @Test
    void terminalDropsTheBarBeforeTheStatus() {
        Progress p = progress(10_000, true).columns(100).rateUnit("tok", 8192).startAt(1233);
        clock.advance(1);
        p.update(1234, "loss 3.214 lr 1.00e-03");
        // 104 columns with the bar; 81 without, which fits
        assertEquals("\rtrain 1234/10000  12% 8192 tok/s elapsed 0:00:01 eta 2:26:06  loss 3.214 lr 1.00e-03",
                output());
    }

    @Test
    void formats() {
        assertEquals("0:00:00", Progress.formatDuration(0.4));
        assertEquals("1:02:05", Progress.formatDuration(3725));
        assertEquals("27:46:40", Progress.formatDuration(100_000));
        assertEquals("?:??:??", Progress.formatDuration(Double.NaN));
        assertEquals("0.25", Progress.formatRate(0.25));
        assertEquals("31.6", Progress.formatRate(31.6));
        assertEquals("812", Progress.formatRate(812.2));
        assertEquals("12.3k", Progress.formatRate(12_300));
        assertEquals("4.57M", Progress.formatRate(4_570_000));
        assertEquals("?", Progress.formatRate(Double.NaN));
    }

    static long stepOf(String line) {
        return Long.parseLong(line.split(" ")[1].split("/")[0]);
    }
}
