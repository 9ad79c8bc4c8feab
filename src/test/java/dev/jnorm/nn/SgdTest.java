package dev.jnorm.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import dev.jnorm.backend.Backend;
import dev.jnorm.module.Parameter;
import dev.jnorm.tensor.DType;
import dev.jnorm.tensor.Shape;
import java.util.List;
import org.junit.jupiter.api.Test;

class SgdTest {
    /**
     * torch.optim.SGD's update, with the rate changed between steps as a schedule changes it: the
     * second step takes the new rate on the velocity the first one left.
     */
    @Test
    void aChangedRateTakesEffectOnTheKeptVelocity() {
        double[] g = {0.5, -1};
        try (Parameter p = new Parameter("w", Backend.cpu(), Shape.of(2), DType.FLOAT64, 1.0);
             Sgd sgd = new Sgd(List.of(p), 0.1, 0.9, 0.01)) {
            p.grad().copyFrom(g);
            sgd.step();
            sgd.setLearningRate(0.02);
            sgd.step();
            double[] expected = new double[2];
            for (int i = 0; i < 2; i++) {
                double w = 1;
                double v = g[i] + 0.01 * w;
                w -= 0.1 * v;
                v = 0.9 * v + g[i] + 0.01 * w;
                w -= 0.02 * v;
                expected[i] = w;
            }
            assertArrayEquals(expected, p.value().toDoubleArray(), 1e-6, "the rates are float, as the kernels take them");
        }
    }
}
