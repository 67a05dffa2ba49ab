package dev.palm4j.core.bench;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Contention guard for benchmarks on a small shared machine (the Java twin of the PyTorch
 * anchor's {@code quiet.py}): foreign CPU is the machine's busy CPU time from /proc/stat minus
 * this process's own CPU time, over the sample's wall time, in cores. On 2 cores one foreign
 * busy thread halves a 2-thread figure, so samples taken while it is high are discarded.
 */
public final class Quiet {
    private Quiet() {}

    /** Samples with more foreign CPU than this (in cores) are discarded. */
    public static final double THRESHOLD = 0.10;

    private static final Path STAT = Path.of("/proc/stat");
    private static final double HZ = 100.0; // USER_HZ: 100 on every Linux that palm4j targets
    private static final com.sun.management.OperatingSystemMXBean OS =
            ManagementFactory.getPlatformMXBean(com.sun.management.OperatingSystemMXBean.class);

    /** A point in time: machine busy CPU seconds, own CPU seconds, wall nanos. */
    public record Mark(double busy, double own, long nanos) {
        /** Foreign CPU since this mark, in cores (0 when /proc/stat is unreadable). */
        public double foreignSince() {
            Mark now = mark();
            double wall = Math.max(1e-9, (now.nanos - nanos) / 1e9);
            if (Double.isNaN(busy) || Double.isNaN(now.busy)) return 0;
            return Math.max(0, (now.busy - busy) - (now.own - own)) / wall;
        }
    }

    public static Mark mark() {
        return new Mark(machineBusySeconds(), OS.getProcessCpuTime() / 1e9, System.nanoTime());
    }

    /** Whether /proc/stat can be read, i.e. whether samples are really being checked. */
    public static boolean available() {
        return !Double.isNaN(machineBusySeconds());
    }

    private static double machineBusySeconds() {
        try {
            String[] f = Files.readAllLines(STAT).get(0).trim().split("\\s+");
            // cpu user nice system idle iowait irq softirq steal ...
            long busy = Long.parseLong(f[1]) + Long.parseLong(f[2]) + Long.parseLong(f[3])
                    + Long.parseLong(f[6]) + Long.parseLong(f[7]);
            return busy / HZ;
        } catch (IOException | RuntimeException e) {
            return Double.NaN;
        }
    }
}
