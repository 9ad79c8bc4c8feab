package dev.jnorm.study;

import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategoryChartBuilder;
import org.knowm.xchart.CategorySeries.CategorySeriesRenderStyle;
import org.knowm.xchart.style.Styler.LegendPosition;
import org.knowm.xchart.style.markers.SeriesMarkers;

/**
 * The study's figure, after Figure 1 of the GroupNorm paper, drawn with XChart: validation error
 * against batch size, largest batch on the left, one line per norm. The batch sizes are evenly
 * spaced categories, which for the study's powers of two is the paper's log2 axis.
 */
public final class StudyPlot {
    private static final int WIDTH = 900;
    private static final int HEIGHT = 600;

    private StudyPlot() {
    }

    /** Writes the figure of {@code results} as a PNG. */
    public static void write(Path png, List<SmallBatchStudy.Result> results, String title) {
        System.setProperty("java.awt.headless", "true");
        CategoryChart chart = new CategoryChartBuilder().width(WIDTH).height(HEIGHT).title(title)
                .xAxisTitle("batch size (images per batch)").yAxisTitle("validation error (%)").build();
        List<Integer> batches = results.stream().map(SmallBatchStudy.Result::batchSize).distinct()
                .sorted(Comparator.reverseOrder()).toList();
        Map<String, Map<Integer, Double>> lines = new LinkedHashMap<>();
        double maxError = 0;
        for (SmallBatchStudy.Result r : results) {
            lines.computeIfAbsent(r.norm(), k -> new LinkedHashMap<>()).put(r.batchSize(), r.valErrorPercent());
            maxError = Math.max(maxError, r.valErrorPercent());
        }
        chart.getStyler().setDefaultSeriesRenderStyle(CategorySeriesRenderStyle.Line).setOverlapped(true)
                .setLegendPosition(LegendPosition.OutsideE);
        chart.getStyler().setYAxisMin(0.0).setYAxisMax(Math.max(10, Math.ceil(maxError / 10) * 10));
        List<String> labels = batches.stream().map(String::valueOf).toList();
        // a norm without a run at some batch size leaves a gap there
        lines.forEach((norm, errors) -> chart.addSeries(norm, labels, batches.stream().map(errors::get).toList())
                .setMarker(SeriesMarkers.CIRCLE));
        try (OutputStream out = Files.newOutputStream(png)) {
            BitmapEncoder.saveBitmap(chart, out, BitmapEncoder.BitmapFormat.PNG);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + png, e);
        }
    }
}
