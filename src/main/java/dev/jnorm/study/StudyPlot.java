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

    /** Writes the figure of {@code cells} as a PNG: mean errors, with error bars of one standard deviation. */
    public static void write(Path png, List<SmallBatchStudy.Summary> cells, String title) {
        System.setProperty("java.awt.headless", "true");
        CategoryChart chart = new CategoryChartBuilder().width(WIDTH).height(HEIGHT).title(title)
                .xAxisTitle("batch size (images per batch)").yAxisTitle("validation error (%)").build();
        List<Integer> batches = cells.stream().map(SmallBatchStudy.Summary::batchSize).distinct()
                .sorted(Comparator.reverseOrder()).toList();
        Map<String, Map<Integer, SmallBatchStudy.Summary>> lines = new LinkedHashMap<>();
        double maxError = 0;
        for (SmallBatchStudy.Summary c : cells) {
            lines.computeIfAbsent(c.norm(), k -> new LinkedHashMap<>()).put(c.batchSize(), c);
            maxError = Math.max(maxError, c.meanError() + c.sdError());
        }
        boolean bars = cells.stream().anyMatch(c -> c.runs() > 1);
        chart.getStyler().setDefaultSeriesRenderStyle(CategorySeriesRenderStyle.Line).setOverlapped(true)
                .setLegendPosition(LegendPosition.OutsideE);
        chart.getStyler().setYAxisMin(0.0).setYAxisMax(Math.max(10, Math.ceil(maxError / 10) * 10));
        List<String> labels = batches.stream().map(String::valueOf).toList();
        // a norm without a run at some batch size leaves a gap there
        lines.forEach((norm, byBatch) -> {
            List<Double> means = batches.stream().map(b -> byBatch.containsKey(b) ? byBatch.get(b).meanError() : null)
                    .toList();
            List<Double> sds = batches.stream().map(b -> byBatch.containsKey(b) ? byBatch.get(b).sdError() : 0.0)
                    .toList();
            (bars ? chart.addSeries(norm, labels, means, sds) : chart.addSeries(norm, labels, means))
                    .setMarker(SeriesMarkers.CIRCLE);
        });
        try (OutputStream out = Files.newOutputStream(png)) {
            BitmapEncoder.saveBitmap(chart, out, BitmapEncoder.BitmapFormat.PNG);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + png, e);
        }
    }
}
