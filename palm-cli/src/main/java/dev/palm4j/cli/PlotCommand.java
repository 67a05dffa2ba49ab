package dev.palm4j.cli;

import dev.palm4j.core.InputException;
import dev.palm4j.core.io.Json;
import java.awt.BasicStroke;
import java.awt.Color;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.Styler;
import org.knowm.xchart.style.XYStyler;
import org.knowm.xchart.style.lines.SeriesLines;
import org.knowm.xchart.style.markers.SeriesMarkers;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/** {@code palm plot}: a run's metrics.jsonl drawn as PNG curves in RUN_DIR/plots/. */
@Command(name = "plot",
        header = "Draw a run's loss, learning-rate and tokens/s curves as PNG files.",
        description = {
            "Reads RUN_DIR/metrics.jsonl and writes into RUN_DIR/plots/: loss.png (training loss and"
                + " cross-entropy per step, validation loss at each evaluation), lr.png (the learning"
                + " rate) and tokens_per_s.png (throughput). Event lines are skipped, and so is a last"
                + " line cut off by a crash, so a run can be plotted while it trains. The paths of the"
                + " files written go to stderr.",
            "",
            "Examples:",
            "  palm plot runs/small",
        })
final class PlotCommand implements Callable<Integer> {
    static final String METRICS = "metrics.jsonl", PLOTS = "plots";
    static final int WIDTH = 1000, HEIGHT = 560;

    @Parameters(paramLabel = "RUN_DIR", description = "A run directory (it holds metrics.jsonl).")
    Path runDir;

    @Override
    public Integer call() throws IOException {
        // Render without a display. AWT reads this once, when it first loads, and nothing before
        // this point touches AWT, so setting it here is early enough.
        System.setProperty("java.awt.headless", "true");
        Metrics m = Metrics.read(runDir);
        Path out = Files.createDirectories(runDir.resolve(PLOTS));
        String run = runDir.toAbsolutePath().normalize().getFileName().toString();

        XYChart loss = chart("Loss: " + run, "loss", m.step, m.loss);
        // loss = cross-entropy + z-loss, so the two nearly coincide: a thin line over a wide one keeps both visible.
        line(loss, "train loss", m.step, m.loss, new Color(31, 119, 180), 3f);
        line(loss, "train cross-entropy", m.step, m.ce, new Color(255, 127, 14), 1.2f);
        if (!m.valStep.isEmpty()) {
            XYSeries v = loss.addSeries("validation loss", m.valStep, m.valLoss);
            v.setLineColor(new Color(44, 160, 44));
            v.setMarkerColor(new Color(44, 160, 44));
            v.setMarker(SeriesMarkers.CIRCLE);
            v.setLineStyle(new BasicStroke(2f));
        }
        XYChart lr = chart("Learning rate: " + run, "learning rate", m.step, m.lr);
        lr.getStyler().setYAxisDecimalPattern("0.0E0"); // rates like 3e-4 would read as 0.000
        line(lr, "learning rate", m.step, m.lr, new Color(148, 103, 189), 2f);
        lr.getStyler().setLegendVisible(false); // one curve, named by the y axis
        XYChart tps = chart("Throughput: " + run, "tokens/s", m.step, m.tokensPerS);
        line(tps, "tokens/s", m.step, m.tokensPerS, new Color(214, 39, 40), 1.5f);
        tps.getStyler().setLegendVisible(false);
        tps.getStyler().setYAxisMin(0.0); // from zero, so step-to-step noise looks as small as it is

        Map<String, XYChart> charts = new LinkedHashMap<>();
        charts.put("loss", loss);
        charts.put("lr", lr);
        charts.put("tokens_per_s", tps);
        for (var e : charts.entrySet()) {
            if (e.getValue().getSeriesMap().size() < 2) continue; // every value missing (null): nothing to draw
            Path png = out.resolve(e.getKey() + ".png");
            BitmapEncoder.saveBitmap(e.getValue(), png.toString(), BitmapEncoder.BitmapFormat.PNG);
            System.err.println(png);
        }
        return 0;
    }

    /** An empty chart over the run's steps; {@code ys}, the values it will show, keep its y range. */
    private static XYChart chart(String title, String yTitle, List<Long> steps, List<Double> ys) {
        XYChart c = new XYChartBuilder().width(WIDTH).height(HEIGHT).title(title).xAxisTitle("step").yAxisTitle(yTitle).build();
        // When all x values are equally spaced, as consecutive steps are, XChart puts its ticks on
        // data points at odd intervals (1, 8, 15, ...). A first, invisible series spanning the run
        // breaks the spacing, so the ticks fall on round numbers (0, 20, 40, ...).
        double first = steps.get(0), last = steps.get(steps.size() - 1);
        double y = ys.stream().filter(v -> v != null).findFirst().orElse(0.0);
        XYSeries axis = c.addSeries(" ", new double[] {first, last}, new double[] {y, y});
        axis.setShowInLegend(false);
        axis.setMarker(SeriesMarkers.NONE);
        axis.setLineStyle(SeriesLines.NONE);
        XYStyler s = c.getStyler();
        s.setLegendPosition(Styler.LegendPosition.InsideNE);
        s.setChartBackgroundColor(Color.WHITE);
        s.setPlotGridLinesColor(new Color(225, 225, 225));
        s.setAntiAlias(true);
        s.setMarkerSize(6);
        return c;
    }

    /** A series without markers: thousands of steps would smear into a thick band; null values are left out. */
    private static void line(XYChart c, String name, List<Long> xs, List<Double> ys, Color color, float width) {
        List<Long> x = new ArrayList<>();
        List<Double> y = new ArrayList<>();
        for (int i = 0; i < xs.size(); i++) {
            if (ys.get(i) == null) continue; // a skipped step's loss, say
            x.add(xs.get(i));
            y.add(ys.get(i));
        }
        if (x.isEmpty()) return;
        XYSeries s = c.addSeries(name, x, y);
        s.setMarker(x.size() > 1 ? SeriesMarkers.NONE : SeriesMarkers.CIRCLE); // a lone point needs a marker
        s.setMarkerColor(color);
        s.setLineColor(color);
        s.setLineStyle(new BasicStroke(width));
    }

    /** The step lines of a metrics.jsonl; null where a line lacks a value. */
    static final class Metrics {
        final List<Long> step = new ArrayList<>(), valStep = new ArrayList<>();
        final List<Double> loss = new ArrayList<>(), ce = new ArrayList<>(), lr = new ArrayList<>(),
                tokensPerS = new ArrayList<>(), valLoss = new ArrayList<>();

        static Metrics read(Path runDir) throws IOException {
            if (!Files.exists(runDir)) throw new InputException("no run directory at " + runDir, "check the path");
            if (!Files.isDirectory(runDir))
                throw new InputException(runDir + " is a file, not a run directory", "give the directory that holds " + METRICS);
            Path file = runDir.resolve(METRICS);
            if (!Files.isRegularFile(file))
                throw new InputException(runDir + " holds no " + METRICS, "give a run directory written by palm train");
            // Decoded leniently: a crash can cut the last line inside a UTF-8 character.
            List<String> lines = new String(Files.readAllBytes(file), StandardCharsets.UTF_8).lines().toList();
            int last = lines.size() - 1;
            while (last >= 0 && lines.get(last).isBlank()) last--;
            Metrics m = new Metrics();
            for (int i = 0; i <= last; i++) {
                String line = lines.get(i);
                if (line.isBlank()) continue;
                Object parsed;
                try {
                    parsed = Json.parse(line);
                } catch (InputException e) {
                    // The trainer flushes whole lines, so only the last one can be cut short: by a
                    // crash, or because the run is still writing it.
                    if (i == last) {
                        System.err.println("palm: note: skipped the last line of " + file + ", which is cut off");
                        continue;
                    }
                    throw new InputException(file + " line " + (i + 1) + " is not JSON: " + e.problem(),
                            "give a metrics.jsonl written by palm train");
                }
                if (!(parsed instanceof Map<?, ?> o))
                    throw new InputException(file + " line " + (i + 1) + " is not a JSON object", "give a metrics.jsonl written by palm train");
                if (o.containsKey("event")) continue; // resume, checkpoint, skipped_step: not a point on a curve
                if (!(o.get("step") instanceof Number n))
                    throw new InputException(file + " line " + (i + 1) + " has no step number", "give a metrics.jsonl written by palm train");
                long s = n.longValue();
                m.step.add(s);
                m.loss.add(number(o, "loss"));
                m.ce.add(number(o, "ce"));
                m.lr.add(number(o, "lr"));
                m.tokensPerS.add(number(o, "tokens_per_s"));
                Double v = number(o, "val_loss");
                if (v != null) {
                    m.valStep.add(s);
                    m.valLoss.add(v);
                }
            }
            if (m.step.isEmpty())
                throw new InputException(file + " holds no step lines yet", "plot after the run's first step");
            return m;
        }

        private static Double number(Map<?, ?> o, String key) {
            return o.get(key) instanceof Number n ? n.doubleValue() : null;
        }
    }
}
