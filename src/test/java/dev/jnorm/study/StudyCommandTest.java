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
        CliRun run = CliRun.of("study", "small-batch", "--synthetic", "--norms", "batch,group,none",
                "--batch-sizes", "8,2", "--train-images", "48", "--val-images", "30", "--backend", "cpu",
                "--out", dir.toString());
        assertEquals(0, run.status(), run.err());
        assertTrue(run.out().contains("Validation error (%) on 30 synthetic images held out, after 1 epoch(s) on 48 "
                + "training images"), run.out());
        assertTrue(run.out().matches("(?s).*\\nbatch\\s+\\d+\\.\\d\\d\\s+\\d+\\.\\d\\d\\n.*"), run.out());
        assertTrue(run.err().contains("images/s"), "a progress bar with the speed");
        List<String> csv = Files.readAllLines(dir.resolve("results.csv"));
        assertEquals("norm,batch_size,epochs,train_images,val_images,learning_rate,train_loss,val_error_pct,"
                + "train_seconds,train_images_per_second", csv.get(0));
        assertEquals(7, csv.size(), "three norms at two batch sizes");
        assertTrue(csv.get(1).startsWith("batch,8,1,48,30,0.012500,"), csv.get(1));
        BufferedImage png = ImageIO.read(dir.resolve("validation-error.png").toFile());
        assertNotNull(png);
        assertEquals(900, png.getWidth());
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
