package dev.jnorm.bench;

import static dev.jnorm.bench.BenchReport.number;

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

    /** One case both ran: jnorm's row, PyTorch eager's, and PyTorch's ATen backward op's (or null). */
    private record Pair(String shape, Map<String, Object> jnorm, Map<String, Object> eager, Map<String, Object> aten) {
        double speedup() {
            return number(eager, "us") / number(jnorm, "us");
        }
    }

    private static List<Pair> pairs(BenchReport jnorm, BenchReport torch) {
        Map<String, Map<String, Object>> eager = new LinkedHashMap<>();
        Map<String, Map<String, Object>> aten = new LinkedHashMap<>();
        for (Map<String, Object> row : torch.rows()) {
            (String.valueOf(row.get("impl")).equals("torch-aten") ? aten : eager).put(BenchReport.key(row), row);
        }
        List<Pair> pairs = new ArrayList<>();
        for (Map<String, Object> row : jnorm.rows()) {
            String key = BenchReport.key(row);
            if (eager.containsKey(key)) {
                pairs.add(new Pair(key.substring(key.indexOf('[')), row, eager.get(key), aten.get(key)));
            }
        }
        return pairs;
    }

    private static String devices(BenchReport jnorm, BenchReport torch) {
        return "jnorm on " + jnorm.header().get("device") + ", copy " + jnorm.header().get("copy_tbps")
                + " TB/s; PyTorch on " + torch.header().get("device") + ", copy " + torch.header().get("copy_tbps")
                + " TB/s";
    }

    public static String render(BenchReport jnorm, BenchReport torch) {
        List<Pair> pairs = pairs(jnorm, torch);
        StringBuilder out = new StringBuilder(devices(jnorm, torch)).append('\n');
        out.append(String.format("%-15s %-8s %-5s %-20s %10s %10s %8s %10s %7s %7s%n", "norm", "pass", "mode", "shape",
                "jnorm us", "torch us", "speedup", "aten us", "jnorm%", "torch%"));
        for (Pair p : pairs) {
            out.append(String.format("%-15s %-8s %-5s %-20s %10.1f %10.1f %7.2fx %10s %6.1f%% %6.1f%%%n",
                    p.jnorm().get("norm"), p.jnorm().get("direction"), p.jnorm().get("mode"), p.shape(),
                    number(p.jnorm(), "us"), number(p.eager(), "us"), p.speedup(),
                    p.aten() == null ? "-" : String.format("%.1f", number(p.aten(), "us")), number(p.jnorm(), "pct_copy"),
                    number(p.eager(), "pct_copy")));
        }
        return out.append(summary(pairs)).toString();
    }

    /** The same comparison as a Markdown table, for docs/performance.md. */
    public static String markdown(BenchReport jnorm, BenchReport torch) {
        List<Pair> pairs = pairs(jnorm, torch);
        StringBuilder out = new StringBuilder(devices(jnorm, torch)).append(".\n\n");
        out.append("| norm | pass | mode | shape | jnorm µs | PyTorch µs | speedup | ATen µs | jnorm % of copy "
                + "| PyTorch % of copy |\n| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |\n");
        for (Pair p : pairs) {
            out.append(String.format("| %s | %s | %s | %s | %.1f | %.1f | %.2fx | %s | %.1f%% | %.1f%% |%n",
                    p.jnorm().get("norm"), p.jnorm().get("direction"), p.jnorm().get("mode"), p.shape(),
                    number(p.jnorm(), "us"), number(p.eager(), "us"), p.speedup(),
                    p.aten() == null ? "-" : String.format("%.1f", number(p.aten(), "us")), number(p.jnorm(), "pct_copy"),
                    number(p.eager(), "pct_copy")));
        }
        return out.append('\n').append(summary(pairs)).toString();
    }

    /** A line per norm: on how many cases jnorm is at least as fast, and the speedups' geometric mean. */
    private static String summary(List<Pair> pairs) {
        if (pairs.isEmpty()) {
            return "no case in common\n";
        }
        Map<String, List<Double>> speedups = new LinkedHashMap<>();
        for (Pair p : pairs) {
            speedups.computeIfAbsent(String.valueOf(p.jnorm().get("norm")), k -> new ArrayList<>()).add(p.speedup());
        }
        StringBuilder out = new StringBuilder();
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
}
