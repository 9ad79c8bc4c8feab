package dev.jnorm.bench;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * jnorm's rows next to PyTorch's for the same cases: times, the speedup (PyTorch's time over
 * jnorm's, so above 1 means jnorm is faster) against PyTorch eager (autograd), PyTorch's ATen
 * backward op where it was timed, and a closing line per norm.
 */
public final class Comparison {
    private Comparison() {
    }

    public static String render(BenchReport jnorm, BenchReport torch) {
        Map<String, Map<String, Object>> eager = new LinkedHashMap<>();
        Map<String, Map<String, Object>> aten = new LinkedHashMap<>();
        for (Map<String, Object> row : torch.rows()) {
            (String.valueOf(row.get("impl")).equals("torch-aten") ? aten : eager).put(BenchReport.key(row), row);
        }
        StringBuilder out = new StringBuilder();
        out.append("jnorm on ").append(jnorm.header().get("device")).append(", copy ")
                .append(jnorm.header().get("copy_tbps")).append(" TB/s; PyTorch on ").append(torch.header().get("device"))
                .append(", copy ").append(torch.header().get("copy_tbps")).append(" TB/s\n");
        out.append(String.format("%-15s %-8s %-5s %-20s %10s %10s %8s %10s %7s %7s%n", "norm", "pass", "mode", "shape",
                "jnorm us", "torch us", "speedup", "aten us", "jnorm%", "torch%"));
        Map<String, List<Double>> speedups = new LinkedHashMap<>();
        for (Map<String, Object> row : jnorm.rows()) {
            String key = BenchReport.key(row);
            Map<String, Object> t = eager.get(key);
            if (t == null) {
                continue;
            }
            double ours = number(row, "us");
            double theirs = number(t, "us");
            Map<String, Object> a = aten.get(key);
            speedups.computeIfAbsent(String.valueOf(row.get("norm")), k -> new ArrayList<>()).add(theirs / ours);
            out.append(String.format("%-15s %-8s %-5s %-20s %10.1f %10.1f %7.2fx %10s %6.1f%% %6.1f%%%n",
                    row.get("norm"), row.get("direction"), row.get("mode"), key.substring(key.indexOf('[')), ours, theirs,
                    theirs / ours, a == null ? "-" : String.format("%.1f", number(a, "us")), number(row, "pct_copy"),
                    number(t, "pct_copy")));
        }
        if (speedups.isEmpty()) {
            return out.append("no case in common\n").toString();
        }
        speedups.forEach((norm, s) -> {
            double logSum = 0;
            double min = Double.MAX_VALUE;
            double max = 0;
            long faster = 0;
            for (double v : s) {
                logSum += Math.log(v);
                min = Math.min(min, v);
                max = Math.max(max, v);
                faster += v >= 1 ? 1 : 0;
            }
            out.append(String.format("%s: jnorm at least as fast on %d of %d, speedup geometric mean %.2fx (min %.2fx, "
                    + "max %.2fx)%n", norm, faster, s.size(), Math.exp(logSum / s.size()), min, max));
        });
        return out.toString();
    }

    private static double number(Map<String, Object> row, String field) {
        return ((Number) row.get(field)).doubleValue();
    }
}
