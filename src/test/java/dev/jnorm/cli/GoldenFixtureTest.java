package dev.jnorm.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.jnorm.backend.cuda.internal.EmulatedDevice;
import dev.jnorm.io.NpyArray;
import dev.jnorm.io.NpyReader;
import dev.jnorm.tensor.DType;
import dev.jnorm.testing.CliRun;
import dev.jnorm.testing.Close;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Replays the PyTorch-made cases of src/test/resources/golden (src/test/python/make_golden.py)
 * through {@code jnorm run} on the CPU backend and on the CUDA backend on the kernel emulator (an
 * H200's geometry): every file PyTorch produced must match, and jnorm must write exactly those
 * files. On the CPU float64 to 1e-9 relative and float32 to the design's fp32 forward tolerance;
 * on the emulator, which computes in float32, the design's fp32 tolerances (gradients 1e-4 plus
 * 1e-5 relative). float16 data files (the float16 cases' output and input gradient) to the design's
 * fp16 tolerance, 1e-3 plus 1e-3 relative, on both.
 */
class GoldenFixtureTest {

    static Stream<String> cases() throws IOException, URISyntaxException {
        try (Stream<Path> dirs = Files.list(root())) {
            return dirs.map(p -> p.getFileName().toString()).sorted().collect(Collectors.toList()).stream();
        }
    }

    private static Path root() throws URISyntaxException {
        return Path.of(GoldenFixtureTest.class.getResource("/golden").toURI());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void jnormRunMatchesPyTorch(String name, @TempDir Path out) throws IOException, URISyntaxException {
        replay(name, "cpu", out);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    @Tag("emulator")
    void jnormRunOnTheEmulatedBackendMatchesPyTorch(String name, @TempDir Path out)
            throws IOException, URISyntaxException {
        String unavailable = EmulatedDevice.unavailableReason();
        assumeTrue(unavailable == null, () -> "skipped: " + unavailable);
        replay(name, "emulated", out);
    }

    private static void replay(String name, String backend, Path out) throws IOException, URISyntaxException {
        Path dir = root().resolve(name);
        List<String> args = new ArrayList<>(List.of("run"));
        for (String a : Files.readAllLines(dir.resolve("args"))) {
            args.add(a.endsWith(".npy") ? dir.resolve(a).toString() : a);
        }
        boolean bfloat16 = String.join(" ", args).contains("--storage bfloat16");
        args.addAll(List.of("--backend", backend, "--out", out.toString()));
        CliRun run = CliRun.of(args.toArray(String[]::new));
        assertEquals(0, run.status(), run.err());

        Path expectedDir = dir.resolve("expected");
        assertEquals(fileNames(expectedDir), fileNames(out), "the files written");
        for (String file : fileNames(expectedDir)) {
            NpyArray expected = NpyReader.read(expectedDir.resolve(file));
            NpyArray actual = NpyReader.read(out.resolve(file));
            assertEquals(expected.shape(), actual.shape(), file + ": shape");
            assertEquals(expected.dtype(), actual.dtype(), file + ": dtype");
            String what = name + "/" + file + " on " + backend;
            if (expected.dtype() == DType.FLOAT16) { // DESIGN's fp16 tolerance, on either backend
                Close.assertClose(expected.values(), actual.values(), 1e-3, 1e-3, what);
            } else if (bfloat16 && (file.equals("output.npy") || file.equals("grad_input.npy"))) {
                for (double v : actual.values()) { // bfloat16 values, in a float32 file
                    assertEquals(DType.BFLOAT16.round(v), v, what + ": bfloat16-representable");
                }
                Close.assertClose(expected.values(), actual.values(), 1e-2, 1.6e-2, what); // DESIGN's bf16 tolerance
            } else if (backend.equals("cpu")) {
                double tol = expected.dtype() == DType.FLOAT64 ? 1e-9 : 1e-5;
                Close.assertClose(expected.values(), actual.values(), tol * 0.1, tol, what);
            } else if (file.startsWith("grad_")) {
                Close.assertClose(expected.values(), actual.values(), 1e-4, 1e-5, what);
            } else {
                Close.assertClose(expected.values(), actual.values(), 1e-5, 1e-5, what);
            }
        }
    }

    private static Set<String> fileNames(Path dir) throws IOException {
        try (Stream<Path> files = Files.list(dir)) {
            return files.map(p -> p.getFileName().toString()).collect(Collectors.toCollection(TreeSet::new));
        }
    }
}
