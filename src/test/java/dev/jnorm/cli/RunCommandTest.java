package dev.jnorm.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jnorm.backend.cuda.internal.EmulatedDevice;
import dev.jnorm.io.NpyArray;
import dev.jnorm.io.NpyReader;
import dev.jnorm.io.NpyWriter;
import dev.jnorm.tensor.DType;
import dev.jnorm.tensor.Shape;
import dev.jnorm.testing.CliRun;
import dev.jnorm.testing.Close;
import dev.jnorm.testing.Cuda;
import dev.jnorm.testing.TestData;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code jnorm run} in-process: bad input exits 2 with one line on stderr and writes nothing. */
class RunCommandTest {
    @TempDir
    Path dir;
    Path out;

    @BeforeEach
    void files() {
        out = dir.resolve("out");
        npy("x", 2, 3, 4);
        npy("x14", 1, 4);
        npy("dy_wrong", 2, 3, 5);
        npy("w4", 4);
    }

    private Path npy(String name, long... dims) {
        Shape shape = Shape.of(dims);
        Path p = dir.resolve(name + ".npy");
        NpyWriter.write(p, new NpyArray(shape, DType.FLOAT64, TestData.randn(7, (int) shape.numel())));
        return p;
    }

    private String path(String name) {
        return dir.resolve(name + ".npy").toString();
    }

    private void assertBadInput(String message, String... args) {
        List<String> all = new ArrayList<>(List.of(args));
        all.addAll(List.of("--out", out.toString()));
        if (!all.contains("--backend")) {
            all.addAll(List.of("--backend", "cpu"));
        }
        CliRun run = CliRun.of(all.toArray(String[]::new));
        assertEquals(2, run.status(), "exit status; stderr: " + run.err());
        assertEquals(message + System.lineSeparator(), run.err(), "stderr is the message on one line");
        assertFalse(Files.exists(out), "nothing written");
    }

    @Test
    void pyTorchMessagesForBadTensors() {
        assertBadInput("Expected more than 1 value per channel when training, got input size [1, 4]",
                "run", "--norm", "batch", "--input", path("x14"));
        assertBadInput("weight should contain 3 elements not 4",
                "run", "--norm", "batch", "--input", path("x"), "--weight", path("w4"));
        assertBadInput("grad_output should have the output's shape [2, 3, 4], got [2, 3, 5]",
                "run", "--norm", "group", "--groups", "3", "--input", path("x"), "--grad-output", path("dy_wrong"));
        assertBadInput("num_channels must be divisible by num_groups",
                "run", "--norm", "group", "--groups", "2", "--input", path("x"));
        assertBadInput("eps must be a non-negative number, got -1.0",
                "run", "--norm", "layer", "--input", path("x"), "--eps", "-1");
    }

    @Test
    void optionsThatDoNotFitTheNormAreRefused() {
        assertBadInput("--norm group needs --groups G", "run", "--norm", "group", "--input", path("x"));
        assertBadInput("--groups applies to group, not to --norm batch",
                "run", "--norm", "batch", "--groups", "2", "--input", path("x"));
        // center is the test-only norm the test class path adds as a service (dev.jnorm.testnorm)
        assertBadInput("--norm must be one of batch, frozen-batch, ghost-batch, sync-batch, batch-renorm, mean-only-batch, "
                + "layer, instance, "
                + "group, rms, weight, batch-instance, switchable, center; got 'batchy'", "run", "--norm", "batchy", "--input", path("x"));
        assertBadInput("--running-var was given, but --norm mean-only-batch keeps no running variance",
                "run", "--norm", "mean-only-batch", "--running-var", path("w4"), "--input", path("x"));
        assertBadInput("--weight applies to batch, frozen-batch, ghost-batch, sync-batch, batch-renorm, layer, instance, "
                + "group, rms, "
                + "batch-instance and switchable, not to --norm mean-only-batch",
                "run", "--norm", "mean-only-batch", "--weight", path("w4"), "--input", path("x"));
        assertBadInput("--mode must be train or eval; got 'test'",
                "run", "--norm", "batch", "--mode", "test", "--input", path("x"));
        assertBadInput("--running-mean, --running-var and --num-batches-tracked need running statistics, which are "
                        + "not tracked (--track-running-stats false)",
                "run", "--norm", "batch", "--track-running-stats", "false", "--running-mean", path("w4"),
                "--input", path("x"));
        assertBadInput("--weight was given, but the layer has no weight (--affine false)",
                "run", "--norm", "instance", "--weight", path("w4"), "--input", path("x"));
        assertBadInput("--normalized-dims must be between 1 and the input's rank 3, got 4",
                "run", "--norm", "layer", "--normalized-dims", "4", "--input", path("x"));
        assertBadInput("ranks must be between 1 and the batch size 2, got 3",
                "run", "--norm", "sync-batch", "--ranks", "3", "--input", path("x"));
        assertBadInput("ranks must be between 1 and the batch size 2, got 0",
                "run", "--norm", "sync-batch", "--ranks", "0", "--input", path("x"));
        assertBadInput("--ranks applies to sync-batch, not to --norm batch",
                "run", "--norm", "batch", "--ranks", "2", "--input", path("x"));
        // one rank of one example: the union has one value per channel, as BatchNorm would refuse
        assertBadInput("Expected more than 1 value per channel when training, got input size [1, 4]",
                "run", "--norm", "sync-batch", "--ranks", "1", "--input", path("x14"));
        assertBadInput("weight should contain 3 elements not 4",
                "run", "--norm", "sync-batch", "--ranks", "2", "--input", path("x"), "--weight", path("w4"));
        assertBadInput("--rmax applies to batch-renorm, not to --norm batch",
                "run", "--norm", "batch", "--rmax", "2", "--input", path("x"));
        assertBadInput("rmax must be at least 1, got 0.5",
                "run", "--norm", "batch-renorm", "--rmax", "0.5", "--input", path("x"));
        assertBadInput("dmax must be non-negative, got -2.0",
                "run", "--norm", "batch-renorm", "--dmax", "-2", "--input", path("x"));
        assertBadInput("Batch Renormalization needs running statistics (track_running_stats=True)",
                "run", "--norm", "batch-renorm", "--track-running-stats", "false", "--input", path("x"));
        assertBadInput("--momentum must be a number or none; got 'fast'",
                "run", "--norm", "batch", "--momentum", "fast", "--input", path("x"));
    }

    @Test
    void unreadableFilesAndUnknownOptions() throws IOException {
        assertBadInput("cannot read " + path("absent") + ": no such file",
                "run", "--norm", "batch", "--input", path("absent"));
        Path truncated = dir.resolve("truncated.npy");
        byte[] bytes = Files.readAllBytes(dir.resolve("x.npy"));
        Files.write(truncated, java.util.Arrays.copyOf(bytes, bytes.length - 8));
        assertBadInput(truncated + ": truncated: shape [2, 3, 4] needs 192 bytes of data, found 184",
                "run", "--norm", "batch", "--input", truncated.toString());
        assertBadInput("Unknown option: '--frobnicate'", "run", "--norm", "batch", "--frobnicate", "--input", path("x"));
        assertBadInput("Invalid value for option '--affine': 'maybe' is not a boolean",
                "run", "--norm", "batch", "--affine", "maybe", "--input", path("x"));
        assertBadInput("Missing required option: '--input=X.npy'", "run", "--norm", "batch");
    }

    @Test
    void float16FilesGiveFloat16DataAndFloat32StatisticsAndGradients() {
        double[] values = TestData.randn(5, 60);
        for (int i = 0; i < values.length; i++) {
            values[i] = DType.FLOAT16.round(2 * values[i] + 1);
        }
        Path x16 = dir.resolve("x16.npy");
        NpyWriter.write(x16, new NpyArray(Shape.of(4, 3, 5), DType.FLOAT16, values));
        CliRun run = CliRun.of("run", "--norm", "layer", "--normalized-dims", "1", "--input", x16.toString(),
                "--grad-output", x16.toString(), "--backend", "cpu", "--out", out.toString());
        assertEquals(0, run.status(), run.err());
        NpyArray y = NpyReader.read(out.resolve("output.npy"));
        assertEquals(DType.FLOAT16, y.dtype());
        assertEquals(DType.FLOAT16, NpyReader.read(out.resolve("grad_input.npy")).dtype());
        assertEquals(DType.FLOAT32, NpyReader.read(out.resolve("saved_rstd.npy")).dtype());
        assertEquals(DType.FLOAT32, NpyReader.read(out.resolve("grad_weight.npy")).dtype());
        // the first row's output: the float64 layer norm of the rounded values, rounded once
        double mean = 0;
        double square = 0;
        for (int j = 0; j < 5; j++) {
            mean += values[j] / 5;
        }
        for (int j = 0; j < 5; j++) {
            square += (values[j] - mean) * (values[j] - mean) / 5;
        }
        for (int j = 0; j < 5; j++) {
            assertEquals(DType.FLOAT16.round((values[j] - mean) / Math.sqrt(square + 1e-5)), y.values()[j]);
        }
    }

    @Test
    void bfloat16StorageWritesFloat32FilesOfBfloat16Values() {
        assertBadInput("--storage must be float16 or bfloat16; got 'int8'",
                "run", "--norm", "batch", "--storage", "int8", "--input", path("x"));
        Path x32 = dir.resolve("x32.npy");
        NpyWriter.write(x32, new NpyArray(Shape.of(4, 3, 5), DType.FLOAT32, TestData.randn(3, 60)));
        List<String> backends = EmulatedDevice.unavailableReason() == null ? List.of("cpu", "emulated") : List.of("cpu");
        Map<String, double[]> outputs = new java.util.HashMap<>();
        for (String backend : backends) {
            Path o = dir.resolve("out-" + backend);
            CliRun run = CliRun.of("run", "--norm", "group", "--groups", "3", "--storage", "bfloat16", "--input",
                    x32.toString(), "--grad-output", x32.toString(), "--backend", backend, "--out", o.toString());
            assertEquals(0, run.status(), run.err());
            for (String file : List.of("output.npy", "grad_input.npy")) {
                NpyArray a = NpyReader.read(o.resolve(file));
                assertEquals(DType.FLOAT32, a.dtype(), file);
                for (double v : a.values()) {
                    assertEquals(DType.BFLOAT16.round(v), v, backend + " " + file + ": bfloat16-representable");
                }
                outputs.put(backend + " " + file, a.values());
            }
        }
        if (backends.size() == 2) { // the emulated GPU's 16-bit kernels within bfloat16's tolerance of the CPU's
            for (String file : List.of("output.npy", "grad_input.npy")) {
                Close.assertClose(outputs.get("cpu " + file), outputs.get("emulated " + file), 1e-2, 1.6e-2, file);
            }
        }
    }

    @Test
    void outputsKeepTheInputsDtypeAndRunningStatisticsAreWrittenInTrainModeOnly() throws IOException {
        Path x32 = dir.resolve("x32.npy");
        NpyWriter.write(x32, new NpyArray(Shape.of(4, 3, 5), DType.FLOAT32, TestData.randn(3, 60)));
        CliRun train = CliRun.of("run", "--norm", "batch", "--input", x32.toString(), "--backend", "cpu",
                "--out", out.toString());
        assertEquals(0, train.status(), train.err());
        assertEquals(DType.FLOAT32, NpyReader.read(out.resolve("output.npy")).dtype());
        assertTrue(Files.exists(out.resolve("running_var.npy")));
        Path evalOut = dir.resolve("eval");
        CliRun eval = CliRun.of("run", "--norm", "batch", "--mode", "eval", "--input", x32.toString(),
                "--backend", "cpu", "--out", evalOut.toString());
        assertEquals(0, eval.status(), eval.err());
        try (var files = Files.list(evalOut)) {
            assertEquals(List.of("output.npy"), files.map(p -> p.getFileName().toString()).toList());
        }
    }

    @Test
    void theCudaBackendRunsWhereUsableOrSaysWhyNot() {
        String reason = Cuda.unavailableReason();
        if (reason != null) {
            assertBadInput("the cuda backend is not available: " + reason, "run", "--norm", "group", "--groups", "3",
                    "--input", path("x"), "--backend", "cuda");
            return;
        }
        Path cuda = dir.resolve("cuda");
        Path cpu = dir.resolve("cpu");
        for (Path o : new Path[] {cuda, cpu}) {
            CliRun run = CliRun.of("run", "--norm", "group", "--groups", "3", "--input", path("x"), "--out", o.toString(),
                    "--backend", o == cuda ? "cuda" : "cpu");
            assertEquals(0, run.status(), run.err());
        }
        NpyArray got = NpyReader.read(cuda.resolve("output.npy"));
        assertEquals(DType.FLOAT64, got.dtype(), "outputs keep the input's dtype");
        dev.jnorm.testing.Close.assertClose(NpyReader.read(cpu.resolve("output.npy")).values(), got.values(), 1e-5, 1e-5,
                "output");
    }

    @Test
    void theEmulatedBackendRunsTheKernelsOnAnyGeometryOrSaysWhyNot() {
        String reason = EmulatedDevice.unavailableReason();
        if (reason != null) {
            assertBadInput("the emulated backend is not available: " + reason, "run", "--norm", "group", "--groups",
                    "3", "--input", path("x"), "--backend", "emulated");
            return;
        }
        Path cpu = dir.resolve("cpu");
        assertEquals(0, CliRun.of("run", "--norm", "group", "--groups", "3", "--input", path("x"), "--out",
                cpu.toString(), "--backend", "cpu").status());
        for (String geometry : new String[] {"h200", "h100", "small"}) {
            Path o = dir.resolve(geometry);
            CliRun run = CliRun.of("run", "--norm", "group", "--groups", "3", "--input", path("x"), "--out",
                    o.toString(), "--backend", "emulated", "--emulate", geometry, "--sync");
            assertEquals(0, run.status(), run.err());
            dev.jnorm.testing.Close.assertClose(NpyReader.read(cpu.resolve("output.npy")).values(),
                    NpyReader.read(o.resolve("output.npy")).values(), 1e-5, 1e-5, geometry);
        }
        assertBadInput("--emulate must be h200, h100 or small; got 'a100'", "run", "--norm", "batch", "--input",
                path("x"), "--backend", "emulated", "--emulate", "a100");
        assertBadInput("--emulate applies to --backend emulated, not to --backend cpu", "run", "--norm", "batch",
                "--input", path("x"), "--backend", "cpu", "--emulate", "h100");
        assertBadInput("--backend must be cpu, cuda, emulated or auto; got 'tpu'", "run", "--norm", "batch",
                "--input", path("x"), "--backend", "tpu");
    }

    @Test
    void helpExplainsEveryOption() {
        CliRun help = CliRun.of("run", "--help");
        assertEquals(0, help.status());
        for (String option : new String[] {"--norm", "--input", "--grad-output", "--out", "--backend", "--mode",
            "--eps", "--momentum", "--groups", "--normalized-dims", "--affine", "--track-running-stats", "--weight",
            "--bias", "--running-mean", "--running-var", "--num-batches-tracked", "--dim", "--g", "--rho",
            "--mean-weight", "--var-weight", "--emulate"}) {
            assertTrue(help.out().contains(option + "="), option + " in:\n" + help.out());
        }
        assertTrue(help.out().contains("--sync"), help.out());
        CliRun top = CliRun.of("--help");
        assertEquals(0, top.status());
        assertTrue(top.out().contains("run "), top.out());
    }
}
