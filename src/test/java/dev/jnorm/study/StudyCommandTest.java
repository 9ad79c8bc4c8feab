package dev.jnorm.study;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jnorm.testing.CliRun;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code jnorm study small-batch} end to end on generated images. */
class StudyCommandTest {

    @Test
    void trainsEveryNormAndBatchSizeAndWritesTheTableCsvAndPlot(@TempDir Path dir) throws IOException {
        CliRun run = CliRun.of("study", "small-batch", "--synthetic", "--norms", "batch,group,none", "--seeds", "1",
                "--epochs", "1", "--batch-sizes", "8,2", "--train-images", "48", "--val-images", "30", "--backend",
                "cpu", "--schedule", "constant",
                "--out", dir.toString());
        assertEquals(0, run.status(), run.err());
        assertTrue(run.out().contains("Validation error (%) on 30 synthetic images held out, after 1 epoch(s) on 48 "
                + "training images (constant learning rate)"), run.out());
        assertTrue(run.out().matches("(?s).*\\nbatch\\s+\\d+\\.\\d\\d\\s+\\d+\\.\\d\\d\\s+\\d+\\n.*"),
                "a row of errors, then the images per second: " + run.out());
        assertTrue(run.err().contains("images/s"), "a progress bar with the speed");
        List<String> csv = Files.readAllLines(dir.resolve("results.csv"));
        assertEquals("norm,batch_size,seed,epochs,train_images,val_images,learning_rate,train_loss,val_error_pct,"
                + "train_seconds,train_images_per_second,devices,dtype,schedule", csv.get(0));
        assertEquals(7, csv.size(), "three norms at two batch sizes");
        assertTrue(csv.get(1).startsWith("batch,8,2018,1,48,30,0.012500,"), csv.get(1));
        assertTrue(csv.get(1).endsWith(",constant"), csv.get(1));
        BufferedImage png = ImageIO.read(dir.resolve("validation-error.png").toFile());
        assertNotNull(png);
        assertEquals(900, png.getWidth());
    }

    @Test
    void ranksSimulateDevicesAndDefaultToPerDeviceAndSynchronizedBatchNormAndGroupNorm(@TempDir Path dir)
            throws IOException {
        CliRun run = CliRun.of("study", "small-batch", "--synthetic", "--ranks", "2", "--seeds", "1", "--batch-sizes",
                "8,4", "--train-images", "32", "--val-images", "20", "--backend", "cpu", "--out", dir.toString());
        assertEquals(0, run.status(), run.err());
        assertTrue(run.out().contains("as 2 simulated devices of batch/2 examples each"), run.out());
        assertTrue(run.out().contains("by global batch size (2 devices, batch/2 each)"), run.out());
        List<String> csv = Files.readAllLines(dir.resolve("results.csv"));
        assertEquals(List.of("batch", "batch", "sync-batch", "sync-batch", "group", "group"),
                csv.subList(1, csv.size()).stream().map(l -> l.split(",")[0]).toList());
        assertTrue(csv.get(1).endsWith(",2,float32,cosine"), "cosine unless told: " + csv.get(1));
        CliRun odd = CliRun.of("study", "small-batch", "--synthetic", "--ranks", "3", "--batch-sizes", "8",
                "--backend", "cpu", "--out", dir.resolve("odd").toString());
        assertEquals(2, odd.status());
        assertEquals("--batch-sizes must be multiples of --ranks 3 (each device takes batch/ranks examples), got 8",
                odd.err().strip());
    }

    /**
     * {@code --seeds 2}: each cell twice (seeds S and S + 1000), the table's cells mean ± sd, a line
     * per batch size saying which differences exceed the spread, and summary.csv with one row per cell.
     */
    @Test
    void seedsRepeatEachCellAndReportTheSpread(@TempDir Path dir) throws IOException {
        CliRun run = CliRun.of("study", "small-batch", "--synthetic", "--seeds", "2", "--norms", "batch,group",
                "--batch-sizes", "8", "--train-images", "32", "--val-images", "20", "--backend", "cpu", "--out",
                dir.toString());
        assertEquals(0, run.status(), run.err());
        assertTrue(run.out().contains(", mean ± standard deviation of 2 seeds:"), run.out());
        assertTrue(run.out().matches("(?s).*\\nbatch\\s+\\d+\\.\\d\\d ± \\d+\\.\\d\\d\\s+\\d+\\n.*"), run.out());
        assertTrue(run.out().matches("(?s).*  batch 8: (batch|group) best \\(\\d+\\.\\d\\d\\); (batch|group) "
                + "\\+\\d+\\.\\d\\d \\(2 SE \\d+\\.\\d\\d, (beyond|within) the spread\\)\\n.*"), run.out());
        List<String> csv = Files.readAllLines(dir.resolve("results.csv"));
        assertEquals(List.of("2018", "3018", "2018", "3018"),
                csv.subList(1, csv.size()).stream().map(l -> l.split(",")[2]).toList());
        List<String> summary = Files.readAllLines(dir.resolve("summary.csv"));
        assertEquals("norm,batch_size,runs,val_error_mean,val_error_sd,train_loss_mean,train_images_per_second",
                summary.get(0));
        assertEquals(3, summary.size(), "one row per cell");
        assertTrue(summary.get(1).startsWith("batch,8,2,"), summary.get(1));
    }

    /** {@code --converged}: 6 epochs at batch sizes 32 and 2 unless told otherwise; not with {@code --full}. */
    @Test
    void convergedTrainsSixEpochsAtBatch32And2(@TempDir Path dir) throws IOException {
        CliRun run = CliRun.of("study", "small-batch", "--synthetic", "--converged", "--seeds", "1", "--norms", "group",
                "--train-images", "32", "--val-images", "20", "--backend", "cpu", "--out", dir.toString());
        assertEquals(0, run.status(), run.err());
        List<String[]> rows = Files.readAllLines(dir.resolve("results.csv")).stream().skip(1)
                .map(l -> l.split(",")).toList();
        assertEquals(List.of("32", "2"), rows.stream().map(r -> r[1]).toList(), "batch sizes");
        assertEquals(List.of("6", "6"), rows.stream().map(r -> r[3]).toList(), "epochs");
        CliRun both = CliRun.of("study", "small-batch", "--synthetic", "--converged", "--full", "--backend", "cpu");
        assertEquals(2, both.status());
        assertEquals("--full and --converged are two budgets: give one", both.err().strip());
    }

    /** The CPU backend has no 16-bit training stack: it trains in float32, says so, and records float32. */
    @Test
    void bfloat16OnTheCpuTrainsInFloat32AndSaysSo(@TempDir Path dir) throws IOException {
        CliRun run = CliRun.of("study", "small-batch", "--synthetic", "--dtype", "bfloat16", "--norms", "group",
                "--seeds", "1",
                "--batch-sizes", "8", "--train-images", "16", "--val-images", "8", "--backend", "cpu", "--out",
                dir.toString());
        assertEquals(0, run.status(), run.err());
        assertTrue(run.out().contains("--dtype bfloat16: the cpu backend trains in float32 (16-bit activations are "
                + "the GPU backend's)"), run.out());
        assertTrue(run.out().contains("(cosine learning rate), by batch size:"),
                "no 16-bit activations in the table's title: " + run.out());
        assertTrue(Files.readAllLines(dir.resolve("results.csv")).get(1).endsWith(",float32,cosine"));
        CliRun wrong = CliRun.of("study", "small-batch", "--synthetic", "--dtype", "float64", "--backend", "cpu");
        assertEquals(2, wrong.status());
        assertTrue(wrong.err().contains("--dtype must be float32, bfloat16 or float16; got 'float64'"), wrong.err());
        CliRun step = CliRun.of("study", "small-batch", "--synthetic", "--schedule", "step", "--backend", "cpu");
        assertEquals(2, step.status());
        assertTrue(step.err().contains("--schedule must be cosine or constant; got 'step'"), step.err());
    }

    @Test
    void missingDataNamesThePackageTheOptionAndTheStandIn(@TempDir Path dir) {
        CliRun run = CliRun.of("study", "small-batch", "--data", dir.resolve("none").toString(), "--out",
                dir.resolve("o").toString(), "--backend", "cpu");
        assertEquals(2, run.status());
        assertEquals("Fashion-MNIST not found in " + dir.resolve("none") + ": install Debian's dataset-fashion-mnist "
                + "package (or run ci/fetch-fashion-mnist.sh), give --data DIR, or use --synthetic\n",
                run.err().replace(System.lineSeparator(), "\n"));
        assertFalse(Files.exists(dir.resolve("o")));
    }
}
