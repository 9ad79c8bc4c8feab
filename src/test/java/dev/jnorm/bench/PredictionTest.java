package dev.jnorm.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jnorm.norm.NormKind;
import dev.jnorm.tensor.Shape;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The predicted times docs/performance.md states follow from the launch plans and the model. */
class PredictionTest {
    private static final List<Prediction> GPU_SUITES = Prediction.of(
            Suites.cases(List.of(NormKind.values()), Suites.SUITES, Suites.Scale.GPU));

    private static Prediction of(String norm, String direction, String mode, Shape shape, long groups) {
        return Prediction.of(List.of(new BenchCase(norm, direction, mode, shape, groups, 1))).get(0);
    }

    @Test
    void thePlansLaunchesAreRecordedNotRun() {
        // LayerNorm backward on [4096, 768]: the one-pass kernel and the finalize of dγ, dβ
        assertEquals(2, of("layer", "backward", "train", Shape.of(4096, 768), 0).launches());
        // BatchNorm forward in training: statistics (partials, finalize), coefficients, elementwise
        assertEquals(4, of("batch", "forward", "train", Shape.of(128, 256, 56, 56), 0).launches());
    }

    @Test
    void noTeamOfTheOnePassBackwardAddsMoreThan256RowsIntoItsFloat32ColumnSums() {
        // [65536, 8192]: one team of 1024 threads a block; the launch model alone would pick ~40 blocks
        LaunchRecorder.Launch fused = Prediction.launches(new BenchCase("layer", "backward", "train",
                Shape.of(65536, 8192), 0, 1)).get(0);
        assertEquals("rows_backward_fused_cluster_vec", fused.kernel().entry(), "an H200: thread-block clusters");
        assertTrue(fused.grid() >= 65536 / 256, "blocks " + fused.grid());
        assertEquals(0, fused.grid() % fused.kernel().cluster(), "whole clusters");
    }

    @Test
    void aOnePassBackwardIsPredictedAheadOfPyTorchsTwoPassesByItsBytes() {
        Prediction p = of("layer", "backward", "train", Shape.of(4096, 4096), 0);
        // 12 B and a little against 20 B: the ratio is under 20/12 and well over 1
        assertTrue(p.ratio() > 1.4 && p.ratio() < 20.0 / 12, "ratio " + p.ratio());
    }

    @Test
    void docsPerformanceCarriesThePredictions() throws IOException {
        String docs = Files.readString(Path.of("docs/performance.md"));
        String table = Prediction.markdown(GPU_SUITES);
        assertTrue(docs.contains(table), "docs/performance.md should carry the current predictions:\n" + table);
    }
}
