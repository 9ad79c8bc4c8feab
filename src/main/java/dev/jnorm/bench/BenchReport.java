package dev.jnorm.bench;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.core.json.JsonReadFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * A benchmark run as a file: what ran where ({@code implementation}, {@code device},
 * {@code copy_tbps}, {@code date}, {@code command}) and its {@code rows}. bench/torch_baseline.py
 * writes the same schema, so that the two can be compared.
 */
public record BenchReport(Map<String, Object> header, List<Map<String, Object>> rows) {
    /** Reads Python's json output too, whose NaN and Infinity are not JSON. */
    private static final ObjectMapper JSON = JsonMapper.builder().enable(JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS)
            .enable(SerializationFeature.INDENT_OUTPUT).build();

    public static BenchReport of(String implementation, String device, double copyTbps, String command,
                                 List<BenchResult> results) {
        Map<String, Object> header = new LinkedHashMap<>();
        header.put("implementation", implementation);
        header.put("device", device);
        header.put("copy_tbps", Math.round(copyTbps * 1000) / 1000.0);
        header.put("date", java.time.ZonedDateTime.now().toString());
        header.put("command", command);
        return new BenchReport(header, results.stream().map(r -> r.row(implementation)).collect(Collectors.toList()));
    }

    @SuppressWarnings("unchecked")
    public static BenchReport read(Path file) {
        Map<String, Object> header;
        try {
            header = JSON.readValue(file.toFile(), new TypeReference<LinkedHashMap<String, Object>>() { });
        } catch (JacksonException e) {
            throw new IllegalArgumentException(file + ": not a benchmark report (" + e.getOriginalMessage() + ")");
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read " + file + ": " + (Files.exists(file) ? e.getMessage()
                    : "no such file"));
        }
        if (!(header.remove("rows") instanceof List<?> rows)) {
            throw new IllegalArgumentException(file + ": not a benchmark report (no \"rows\")");
        }
        return new BenchReport(header, (List<Map<String, Object>>) rows);
    }

    public void write(Path json, Path csv) {
        Map<String, Object> all = new LinkedHashMap<>(header);
        all.put("rows", rows);
        StringBuilder table = new StringBuilder();
        if (!rows.isEmpty()) {
            table.append(String.join(",", rows.get(0).keySet())).append('\n');
            for (Map<String, Object> row : rows) {
                table.append(row.values().stream().map(BenchReport::csvCell).collect(Collectors.joining(","))).append('\n');
            }
        }
        try {
            JSON.writeValue(json.toFile(), all);
            Files.writeString(csv, table);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static String csvCell(Object v) {
        if (v == null) {
            return "";
        }
        if (v instanceof List<?> l) {
            return "\"" + l.stream().map(x -> String.valueOf(((Number) x).longValue())).collect(Collectors.joining("x"))
                    + "\"";
        }
        return String.valueOf(v);
    }

    /** The key a row is matched on across implementations: norm, direction, mode, shape. */
    static String key(Map<String, Object> row) {
        return row.get("norm") + " " + row.get("direction") + " " + row.get("mode") + " " + shapeAndDtype(row);
    }

    /** The row's shape, and its storage dtype where not float32. */
    static String shapeAndDtype(Map<String, Object> row) {
        Object dtype = row.getOrDefault("dtype", "float32");
        return shape(row) + ("float32".equals(dtype) ? "" : " " + dtype);
    }

    /** A numeric field of a row. */
    static double number(Map<String, Object> row, String field) {
        return ((Number) row.get(field)).doubleValue();
    }

    /** A row's shape as {@code [2, 256, 100, 152]}. */
    static String shape(Map<String, Object> row) {
        return ((List<?>) row.get("shape")).stream().map(x -> String.valueOf(((Number) x).longValue()))
                .collect(Collectors.joining(", ", "[", "]"));
    }
}
