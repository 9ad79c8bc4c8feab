package dev.jnorm.bench;

import static dev.jnorm.bench.BenchReport.number;

import java.util.List;
import java.util.Map;

/**
 * The byte side of the roofline as Markdown, from a run on the kernel emulator: per case the
 * kernels it launched, its minimal, floor and moved bytes per element, and moved ÷ floor, marked
 * where it is over the 1.05 the design allows (docs/performance.md's table).
 */
public final class ByteTable {
    /** The most a case may move, as a multiple of its floor bytes. */
    public static final double FLOOR_SLACK = 1.05;

    private ByteTable() {
    }

    /**
     * The table of a report whose rows carry {@code moved_bytes}.
     *
     * @throws IllegalArgumentException when the report has rows without them (not an emulated run)
     */
    public static String markdown(BenchReport report) {
        StringBuilder s = new StringBuilder("| norm | pass | mode | shape | kernels | minimal | floor | moved | moved ÷ "
                + "floor |\n| --- | --- | --- | --- | --- | ---: | ---: | ---: | ---: |\n");
        for (Map<String, Object> row : report.rows()) {
            if (!(row.get("moved_bytes") instanceof Number moved)) {
                throw new IllegalArgumentException("--markdown without --compare writes the bytes an emulated run "
                        + "moved, and these results have no moved_bytes (run with --backend emulated)");
            }
            long elements = ((List<?>) row.get("shape")).stream().mapToLong(d -> ((Number) d).longValue())
                    .reduce(1, (a, b) -> a * b);
            double ratio = moved.doubleValue() / number(row, "floor_bytes");
            s.append(String.format("| %s | %s | %s | %s | %s | %.2f | %.2f | %.2f | %.3f%s |%n", row.get("norm"),
                    row.get("direction"), row.get("mode"), BenchReport.shapeAndDtype(row),
                    String.valueOf(row.get("kernels")).replace("+", ", "), number(row, "minimal_bytes") / elements,
                    number(row, "floor_bytes") / elements, moved.doubleValue() / elements, ratio,
                    ratio > FLOOR_SLACK ? " **over**" : ""));
        }
        return s.toString();
    }
}
