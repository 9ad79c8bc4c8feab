package dev.jnorm.testnorm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jnorm.backend.Backend;
import dev.jnorm.io.NpyArray;
import dev.jnorm.io.NpyReader;
import dev.jnorm.io.NpyWriter;
import dev.jnorm.norm.NormRegistry;
import dev.jnorm.tensor.DType;
import dev.jnorm.tensor.Shape;
import dev.jnorm.tensor.Tensor;
import dev.jnorm.testing.CliRun;
import dev.jnorm.testing.Close;
import dev.jnorm.testing.GradCheck;
import dev.jnorm.testing.TestData;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A norm added as a service ({@link CenterNorm}, this package and a services file, nothing else)
 * reaches the registry, {@code jnorm run} with its checks, and {@code jnorm bench}.
 */
class AddedNormTest {

    @Test
    void theRegistryListsItAfterTheBuiltInNorms() {
        assertInstanceOf(CenterNorm.Spec.class, NormRegistry.named("center"));
        List<String> names = NormRegistry.names();
        assertEquals("center", names.get(names.size() - 1));
    }

    @Test
    void itsBackwardIsTheGradientOfItsForward() {
        Backend cpu = Backend.cpu();
        try (CenterNorm center = new CenterNorm(cpu, DType.FLOAT64);
             Tensor x = TestData.randn(cpu, 3, DType.FLOAT64, 4, 5)) {
            GradCheck.check(center, x, 11);
        }
    }

    @Test
    void jnormRunComputesItAndRefusesOptionsItDoesNotHave(@TempDir Path dir) throws IOException {
        double[] x = TestData.randn(5, 6);
        double[] dy = TestData.randn(6, 6);
        NpyWriter.write(dir.resolve("x.npy"), new NpyArray(Shape.of(2, 3), DType.FLOAT64, x));
        NpyWriter.write(dir.resolve("dy.npy"), new NpyArray(Shape.of(2, 3), DType.FLOAT64, dy));
        Path out = dir.resolve("out");
        CliRun run = CliRun.of("run", "--norm", "center", "--backend", "cpu", "--input", dir.resolve("x.npy").toString(),
                "--grad-output", dir.resolve("dy.npy").toString(), "--out", out.toString());
        assertEquals(0, run.status(), run.err());
        Close.assertClose(centered(x), NpyReader.read(out.resolve("output.npy")).values(), 1e-15, 0, "output");
        Close.assertClose(centered(dy), NpyReader.read(out.resolve("grad_input.npy")).values(), 1e-15, 0, "grad_input");

        CliRun eps = CliRun.of("run", "--norm", "center", "--backend", "cpu", "--input", dir.resolve("x.npy").toString(),
                "--eps", "0.1", "--out", dir.resolve("not").toString());
        assertEquals(2, eps.status());
        assertEquals("--eps applies to batch, frozen-batch, ghost-batch, sync-batch, batch-renorm, layer, instance, group, rms, "
                + "batch-instance and "
                + "switchable, "
                + "not to --norm center" + System.lineSeparator(), eps.err());
        assertTrue(Files.notExists(dir.resolve("not")));
    }

    @Test
    void jnormBenchTimesItOnItsSuite(@TempDir Path dir) {
        CliRun run = CliRun.of("bench", "--backend", "cpu", "--suite", "rows", "--norm", "center", "--runs", "20",
                "--warmup", "1", "--out", dir.toString());
        assertEquals(0, run.status(), run.err());
        assertTrue(run.out().contains("center          backward train [64, 1000]"), run.out());
    }

    private static double[] centered(double[] v) {
        double[] c = v.clone();
        for (int row = 0; row < c.length; row += 3) {
            double mean = (c[row] + c[row + 1] + c[row + 2]) / 3;
            for (int i = row; i < row + 3; i++) {
                c[i] -= mean;
            }
        }
        return c;
    }
}
