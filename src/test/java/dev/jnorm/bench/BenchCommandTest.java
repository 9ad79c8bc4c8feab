package dev.jnorm.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.jnorm.backend.cuda.internal.EmulatedDevice;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.jnorm.testing.CliRun;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code jnorm bench} in CI conditions: the CPU backend on small shapes, and the comparison. */
class BenchCommandTest {

    private static CliRun run(String... args) {
        CliRun run = CliRun.of(args);
        assertEquals(0, run.status(), run.err());
        return run;
    }

    @Test
    @SuppressWarnings("unchecked")
    void timesTheCpuBackendAndWritesJsonAndCsv(@TempDir Path dir) throws IOException {
        CliRun output = run("bench", "--backend", "cpu", "--suite", "rows", "--norm", "layer", "--runs", "20",
                "--warmup", "1", "--out", dir.toString());
        assertTrue(output.err().contains("no GPU in use: timing the CPU backend"), output.err());
        assertTrue(output.out().contains("copy bandwidth"), output.out());
        Map<String, Object> report = new ObjectMapper().readValue(dir.resolve("bench.json").toFile(), Map.class);
        List<Map<String, Object>> rows = (List<Map<String, Object>>) report.get("rows");
        assertEquals(12, rows.size(), "layer forward and backward on two row shapes, in three dtypes");
        assertEquals(List.of("float32", "float16", "bfloat16"),
                rows.stream().map(r -> r.get("dtype")).distinct().toList(), "every dtype the CPU backend holds");
        for (Map<String, Object> row : rows) {
            long numel = ((List<?>) row.get("shape")).stream().mapToLong(d -> ((Number) d).longValue())
                    .reduce(1, (a, b) -> a * b);
            boolean forward = row.get("direction").equals("forward");
            long perValue = (forward ? 2 : 3) * (row.get("dtype").equals("float32") ? 4 : 2);
            // and the float32 weight and bias of a row: read forward; backward the weight read and both
            // gradients read and written
            long columns = ((Number) ((List<?>) row.get("shape")).get(1)).longValue();
            long parameters = (forward ? 2 * 4 : 4 + 2 * 8) * columns;
            assertEquals(perValue * numel + parameters, ((Number) row.get("minimal_bytes")).longValue(), row.toString());
            assertTrue(((Number) row.get("us")).doubleValue() > 0);
            assertEquals(20, row.get("runs"));
        }
        List<String> csv = Files.readAllLines(dir.resolve("bench.csv"));
        assertEquals(13, csv.size());
        assertTrue(csv.get(0).startsWith("impl,norm,direction,mode,shape,"), csv.get(0));
    }

    @Test
    void runsTheKernelsOnTheEmulatorAndTablesTheBytesTheyMoved(@TempDir Path dir) throws IOException {
        assumeTrue(EmulatedDevice.unavailableReason() == null, EmulatedDevice::unavailableReason);
        CliRun output = run("bench", "--backend", "emulated", "--suite", "weight", "--norm", "weight", "--runs", "1",
                "--warmup", "0", "--out", dir.toString(), "--markdown", dir.resolve("bytes.md").toString());
        assertTrue(output.err().contains("emulated: the kernels run on the CPU emulator"), output.err());
        assertTrue(output.out().contains("H200 (emulated)"), output.out());
        List<String> csv = Files.readAllLines(dir.resolve("bench.csv"));
        assertTrue(csv.get(0).contains(",moved_bytes,kernels,"), csv.get(0));
        // WeightNorm [256, 64, 3, 3]: v read, w written (8 B per element) and the norms and g
        List<String> bytes = Files.readAllLines(dir.resolve("bytes.md"));
        assertEquals("| weight | forward | train | [256, 64, 3, 3] | weight_norm_forward | 8.00 | 8.00 | 8.01 | 1.002 |",
                bytes.get(2));
        // a 16-bit weight is reparameterized as float32 master weights: float32's bytes
        assertEquals("| weight | forward | train | [256, 64, 3, 3] float16 | weight_norm_forward | 8.00 | 8.00 | 8.01 | 1.002 |",
                bytes.get(4));

        CliRun cpu = run("bench", "--backend", "cpu", "--suite", "weight", "--norm", "weight", "--runs", "20",
                "--warmup", "0", "--out", dir.resolve("cpu").toString());
        assertEquals(0, cpu.status(), cpu.err());
        CliRun table = CliRun.of("bench", "--results", dir.resolve("cpu/bench.json").toString(), "--markdown",
                dir.resolve("no.md").toString());
        assertEquals("--markdown without --compare writes the bytes an emulated run moved, and these results have no "
                + "moved_bytes (run with --backend emulated)" + System.lineSeparator(), table.err());
    }

    @Test
    @SuppressWarnings("unchecked")
    void comparesWithPyTorchRowsOfTheSameCases(@TempDir Path dir) throws IOException {
        run("bench", "--backend", "cpu", "--suite", "rows", "--norm", "rms", "--dtype", "float32", "--runs", "20",
                "--warmup", "1", "--out", dir.toString());
        Map<String, Object> report = new ObjectMapper().readValue(dir.resolve("bench.json").toFile(), Map.class);
        for (Map<String, Object> row : (List<Map<String, Object>>) report.get("rows")) {
            row.put("impl", "torch-eager");
            row.put("us", ((Number) row.get("us")).doubleValue() * 2); // a made-up PyTorch twice as slow
        }
        report.put("device", "made-up device");
        new ObjectMapper().writeValue(dir.resolve("torch.json").toFile(), report);
        Path table = dir.resolve("performance.md");
        String out = run("bench", "--results", dir.resolve("bench.json").toString(), "--compare",
                dir.resolve("torch.json").toString(), "--markdown", table.toString()).out();
        assertTrue(out.contains("2.00x"), out);
        assertTrue(out.contains("rms: jnorm at least as fast on 4 of 4, speedup geometric mean 2.00x"), out);
        String md = Files.readString(table);
        assertTrue(md.contains("| rms | forward | train | [64, 768] | "), md);
        assertEquals(4, md.lines().filter(l -> l.startsWith("| rms |")).count(), md);
        assertTrue(md.contains("PyTorch on made-up device"), md);
    }

    @Test
    void readsPythonsJsonAndRefusesWhatIsNotAReport(@TempDir Path dir) throws IOException {
        String row = "{\"impl\": \"torch-eager\", \"norm\": \"rms\", \"direction\": \"forward\", \"mode\": \"train\", "
                + "\"shape\": [64, 768], \"us\": 3.5, \"pct_copy\": NaN}";
        Files.writeString(dir.resolve("torch.json"), "{\"device\": \"d\", \"rows\": [" + row + "]}");
        Files.writeString(dir.resolve("jnorm.json"), "{\"device\": \"d\", \"rows\": [" + row.replace("torch-eager",
                "jnorm") + "]}");
        CliRun ok = CliRun.of("bench", "--results", dir.resolve("jnorm.json").toString(), "--compare",
                dir.resolve("torch.json").toString());
        assertEquals(0, ok.status(), ok.err());
        assertTrue(ok.out().contains("1.00x"), ok.out());

        Files.writeString(dir.resolve("cut.json"), "{\"rows\": [");
        CliRun cut = CliRun.of("bench", "--results", dir.resolve("cut.json").toString(), "--compare",
                dir.resolve("torch.json").toString());
        assertEquals(2, cut.status());
        assertTrue(cut.err().startsWith(dir.resolve("cut.json") + ": not a benchmark report ("), cut.err());
        Files.writeString(dir.resolve("rowless.json"), "{\"device\": \"d\"}");
        assertEquals(dir.resolve("rowless.json") + ": not a benchmark report (no \"rows\")" + System.lineSeparator(),
                CliRun.of("bench", "--results", dir.resolve("rowless.json").toString(), "--compare",
                        dir.resolve("torch.json").toString()).err());
        assertEquals("cannot read " + dir.resolve("absent.json") + ": no such file" + System.lineSeparator(),
                CliRun.of("bench", "--results", dir.resolve("absent.json").toString(), "--compare",
                        dir.resolve("torch.json").toString()).err());
    }
}
