package dev.palm4j.core.bench;

import dev.palm4j.core.kernels.Parallel;
import dev.palm4j.core.kernels.Simd;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code palm bench kernels}: GEMM GFLOP/s on square shapes at 1 and N threads as a fraction of
 * the measured FMA peak, the same at half the vector width (in a child JVM, since the species is
 * fixed when the JVM starts), and causal attention forward + backward against T.
 */
public final class KernelBench {
    private KernelBench() {}

    public record Options(int[] sizes, int[] threads, int[] seqLens, int samples, boolean otherWidth) {}

    /** Runs everything, printing a table to {@code out}; returns the JSON summary. */
    public static Map<String, Object> run(Options o, PrintStream out) {
        Map<String, Object> json = new LinkedHashMap<>();
        json.put("vector_bits", Simd.bits());
        out.printf("palm4j kernels, %d-bit vectors, JDK %s%n", Simd.bits(), Runtime.version());
        Map<Integer, Double> peak = new LinkedHashMap<>();
        for (int t : o.threads()) peak.put(t, FmaPeak.measure(t, 3, 2.0).gflops());
        out.printf("FMA peak: %s GFLOP/s (threads -> GFLOP/s)%n", fmt(peak));
        Map<String, Double> peakJson = new LinkedHashMap<>();
        peak.forEach((t, g) -> peakJson.put(t + "_threads", g));
        json.put("peak_gflops", peakJson);

        out.printf("%nGEMM C = A.B, n x n x n, median GFLOP/s%n%-6s %-8s %10s %8s%n", "n", "threads", "GFLOP/s", "of peak");
        List<Map<String, Object>> gemm = new ArrayList<>();
        for (GemmBench.Point p : GemmBench.run(o.sizes(), o.threads(), o.samples())) {
            double frac = p.gflops() / peak.get(p.threads());
            out.printf("%-6d %-8d %10.1f %7.0f%%%s%n", p.n(), p.threads(), p.gflops(), 100 * frac, noisy(p.kept()));
            gemm.add(Map.of("n", p.n(), "threads", p.threads(), "gflops", p.gflops(), "of_peak", frac));
        }
        json.put("gemm", gemm);

        int half = Simd.bits() / 2;
        if (o.otherWidth() && half >= 128) {
            out.printf("%nGEMM at %d-bit vectors (child JVM), same shapes%n", half);
            List<Map<String, Object>> other = new ArrayList<>();
            for (String line : childGemm(half, o)) {
                String[] f = line.split(" ");
                int n = Integer.parseInt(f[1]), t = Integer.parseInt(f[2]);
                double g = Double.parseDouble(f[4]);
                double mine = gemm.stream().filter(m -> m.get("n").equals(n) && m.get("threads").equals(t))
                        .mapToDouble(m -> (Double) m.get("gflops")).findFirst().orElse(Double.NaN);
                out.printf("%-6d %-8d %10.1f   %d-bit is %.2fx of this%n", n, t, g, Simd.bits(), mine / g);
                other.add(Map.of("n", n, "threads", t, "gflops", g));
            }
            json.put("gemm_" + half + "bit", other);
        }

        int threads = o.threads()[o.threads().length - 1];
        out.printf("%nCausal attention, B=1, 8 query heads, 1 KV head (MQA), head_dim 64, %d threads%n", threads);
        out.printf("%-6s %12s %14s %10s %12s%n", "T", "forward ms", "fwd+bwd ms", "x T=first", "fwd+bwd GF/s");
        List<Map<String, Object>> att = new ArrayList<>();
        try (Parallel par = Parallel.of(threads)) {
            List<AttentionBench.Point> pts = AttentionBench.run(par, o.seqLens(), 1, 8, 1, 64, o.samples());
            for (AttentionBench.Point p : pts) {
                out.printf("%-6d %12.2f %14.2f %10.2f %12.1f%n", p.T(), p.forwardMs(), p.trainMs(),
                        p.trainMs() / pts.get(0).trainMs(), p.trainGflops());
                att.add(Map.of("T", p.T(), "forward_ms", p.forwardMs(), "train_ms", p.trainMs(),
                        "train_gflops", p.trainGflops()));
            }
        }
        json.put("attention", att);
        return json;
    }

    private static String noisy(int kept) {
        return kept == 0 ? "  (noisy: another process used the CPU)" : "";
    }

    private static String fmt(Map<Integer, Double> m) {
        StringBuilder sb = new StringBuilder();
        m.forEach((k, v) -> sb.append(sb.length() == 0 ? "" : ", ").append(k).append(" -> ").append(String.format("%.1f", v)));
        return sb.toString();
    }

    // Runs GemmBench in a JVM with the given vector width and returns its "point ..." lines.
    private static List<String> childGemm(int bits, Options o) {
        String java = ProcessHandle.current().info().command().orElse("java");
        List<String> cmd = new ArrayList<>(List.of(java, "--add-modules", "jdk.incubator.vector",
                "-D" + Simd.WIDTH_PROPERTY + "=" + bits, "-cp", System.getProperty("java.class.path"),
                GemmBench.class.getName(), join(o.sizes()), join(o.threads()), Integer.toString(o.samples())));
        try {
            Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.DISCARD).start();
            List<String> lines = new ArrayList<>();
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                for (String line; (line = r.readLine()) != null; ) if (line.startsWith("point ")) lines.add(line);
            }
            if (p.waitFor() != 0) throw new IllegalStateException("the " + bits + "-bit child JVM failed: " + cmd);
            return lines;
        } catch (IOException e) {
            throw new IllegalStateException("cannot start a child JVM for the " + bits + "-bit run: " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }

    private static String join(int[] xs) {
        StringBuilder sb = new StringBuilder();
        for (int x : xs) sb.append(sb.length() == 0 ? "" : ",").append(x);
        return sb.toString();
    }
}
