package dev.jnorm.bench;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;

/**
 * One timed case: median and fastest time, the traffic it must move, the traffic it moved and the
 * kernels it launched where the device counts them (the kernel emulator), and the bandwidth that makes: TB/s on the minimal bytes
 * and on the floor, each also as a percentage of the measured copy bandwidth.
 */
public record BenchResult(BenchCase benchCase, double micros, double minMicros, Traffic traffic,
                          OptionalLong movedBytes, List<String> kernels, int runs, double copyTbps) {

    public double tbps() {
        return traffic.minimalBytes() / (micros * 1e-6) / 1e12;
    }

    public double floorTbps() {
        return traffic.floorBytes() / (micros * 1e-6) / 1e12;
    }

    public double percentOfCopy() {
        return 100 * tbps() / copyTbps;
    }

    public double floorPercentOfCopy() {
        return 100 * floorTbps() / copyTbps;
    }

    /** The row as written to JSON and CSV, the schema bench/torch_baseline.py writes too. */
    public Map<String, Object> row(String implementation) {
        BenchCase c = benchCase;
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("impl", implementation);
        m.put("norm", c.norm());
        m.put("direction", c.direction());
        m.put("mode", c.mode());
        List<Object> dims = new ArrayList<>();
        for (long d : c.shape().dims()) {
            dims.add(d);
        }
        m.put("shape", dims);
        m.put("groups", c.groups());
        m.put("dtype", c.dtype().toString());
        m.put("us", round(micros));
        m.put("min_us", round(minMicros));
        m.put("minimal_bytes", traffic.minimalBytes());
        m.put("floor_bytes", traffic.floorBytes());
        m.put("moved_bytes", movedBytes.isPresent() ? movedBytes.getAsLong() : null);
        m.put("kernels", kernels.isEmpty() ? null : String.join("+", kernels));
        m.put("tbps", round(tbps()));
        m.put("pct_copy", round(percentOfCopy()));
        m.put("floor_tbps", round(floorTbps()));
        m.put("floor_pct_copy", round(floorPercentOfCopy()));
        m.put("runs", runs);
        return m;
    }

    private static double round(double v) {
        return Math.round(v * 1000) / 1000.0;
    }
}
