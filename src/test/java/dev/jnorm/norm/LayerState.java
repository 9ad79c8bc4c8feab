package dev.jnorm.norm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.jnorm.module.Parameter;
import java.util.ArrayList;
import java.util.List;

/** A snapshot of everything a call may change: parameters, gradients, running statistics and their count. */
final class LayerState {
    private LayerState() {
    }

    static double[][] of(NormLayer<?> layer) {
        List<double[]> parts = new ArrayList<>();
        for (Parameter p : layer.parameters()) {
            parts.add(p.value().toDoubleArray());
            parts.add(p.grad().toDoubleArray());
        }
        if (layer instanceof RunningStatsNorm<?> r && r.runningMean() != null) {
            parts.add(r.runningMean().toDoubleArray());
            parts.add(r.runningVar().toDoubleArray());
            parts.add(new double[] {r.numBatchesTracked()});
        }
        return parts.toArray(new double[0][]);
    }

    static void assertUnchanged(double[][] before, NormLayer<?> layer) {
        double[][] after = of(layer);
        assertEquals(before.length, after.length);
        for (int i = 0; i < before.length; i++) {
            assertArrayEquals(before[i], after[i], 0.0, "part " + i + " of the layer's state changed");
        }
    }
}
