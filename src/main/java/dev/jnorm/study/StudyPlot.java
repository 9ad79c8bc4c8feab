package dev.jnorm.study;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import javax.imageio.ImageIO;

/**
 * The study's figure, after Figure 1 of the GroupNorm paper: validation error against batch size
 * on a log2 axis (largest batch on the left), one line per norm.
 */
public final class StudyPlot {
    private static final int WIDTH = 900;
    private static final int HEIGHT = 600;
    private static final int LEFT = 80;
    private static final int RIGHT = 190;
    private static final int TOP = 60;
    private static final int BOTTOM = 70;
    private static final Color[] COLORS = {new Color(0x1f77b4), new Color(0xd62728), new Color(0x2ca02c),
        new Color(0x9467bd), new Color(0xff7f0e), new Color(0x8c564b), new Color(0x7f7f7f)};

    private StudyPlot() {
    }

    public static void write(Path png, List<SmallBatchStudy.Result> results, String title) {
        System.setProperty("java.awt.headless", "true");
        BufferedImage image = new BufferedImage(WIDTH, HEIGHT, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = image.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
        g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, WIDTH, HEIGHT);

        TreeSet<Integer> batches = new TreeSet<>();
        Map<String, Map<Integer, Double>> lines = new LinkedHashMap<>();
        double maxError = 0;
        for (SmallBatchStudy.Result r : results) {
            batches.add(r.batchSize());
            lines.computeIfAbsent(r.norm(), k -> new LinkedHashMap<>()).put(r.batchSize(), r.valErrorPercent());
            maxError = Math.max(maxError, r.valErrorPercent());
        }
        double top = Math.max(10, Math.ceil(maxError / 10) * 10);
        int plotW = WIDTH - LEFT - RIGHT;
        int plotH = HEIGHT - TOP - BOTTOM;
        double logMax = log2(batches.last());
        double logMin = log2(batches.first());
        double span = Math.max(logMax - logMin, 1);

        g.setColor(Color.BLACK);
        g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 16));
        g.drawString(title, LEFT, 32);
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 13));
        g.drawRect(LEFT, TOP, plotW, plotH);
        for (int tick = 0; tick <= top; tick += top > 50 ? 20 : top > 20 ? 10 : 5) {
            int y = TOP + plotH - (int) (tick / top * plotH);
            g.setColor(new Color(0xdddddd));
            g.drawLine(LEFT + 1, y, LEFT + plotW - 1, y);
            g.setColor(Color.BLACK);
            g.drawString(tick + "", LEFT - 30, y + 5);
        }
        for (int b : batches) {
            int x = xOf(b, logMax, span, plotW);
            g.drawLine(x, TOP + plotH, x, TOP + plotH + 5);
            g.drawString(Integer.toString(b), x - 6, TOP + plotH + 22);
        }
        g.drawString("batch size (images per batch, log scale)", LEFT + plotW / 2 - 120, HEIGHT - 20);
        Graphics2D label = (Graphics2D) g.create();
        label.rotate(-Math.PI / 2);
        label.drawString("validation error (%)", -(TOP + plotH / 2 + 60), 30);
        label.dispose();

        int index = 0;
        g.setStroke(new BasicStroke(2.5f));
        for (Map.Entry<String, Map<Integer, Double>> line : lines.entrySet()) {
            g.setColor(COLORS[index % COLORS.length]);
            int previousX = -1;
            int previousY = -1;
            for (Map.Entry<Integer, Double> point : new java.util.TreeMap<>(line.getValue()).descendingMap().entrySet()) {
                int x = xOf(point.getKey(), logMax, span, plotW);
                int y = TOP + plotH - (int) (point.getValue() / top * plotH);
                g.fillOval(x - 4, y - 4, 8, 8);
                if (previousX >= 0) {
                    g.drawLine(previousX, previousY, x, y);
                }
                previousX = x;
                previousY = y;
            }
            int legendY = TOP + 20 + 24 * index;
            g.drawLine(LEFT + plotW + 20, legendY - 5, LEFT + plotW + 50, legendY - 5);
            g.setColor(Color.BLACK);
            g.drawString(line.getKey(), LEFT + plotW + 58, legendY);
            index++;
        }
        g.dispose();
        try {
            ImageIO.write(image, "png", png.toFile());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + png, e);
        }
    }

    private static int xOf(int batch, double logMax, double span, int plotW) {
        return LEFT + 30 + (int) ((logMax - log2(batch)) / span * (plotW - 60));
    }

    private static double log2(double v) {
        return Math.log(v) / Math.log(2);
    }
}
