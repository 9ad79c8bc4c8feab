package dev.jnorm.nn;

import dev.jnorm.module.Parameter;
import java.util.SplittableRandom;

/**
 * Seeded initialization, so that every network built from the same seed starts from the same
 * weights whatever the norm and batch size: values are drawn on the host in a fixed order.
 */
public final class Init {
    private final SplittableRandom random;

    /**
     * An initializer whose draws follow from {@code seed}.
     *
     * @param seed the seed
     */
    public Init(long seed) {
        this.random = new SplittableRandom(seed);
    }

    /**
     * Kaiming (He) normal for ReLU, fan-in mode: N(0, 2/fanIn), as torch.nn.init.kaiming_normal_.
     *
     * @param p the parameter, overwritten
     * @param fanIn its fan in
     */
    public void kaimingNormal(Parameter p, long fanIn) {
        double std = Math.sqrt(2.0 / fanIn);
        double[] v = new double[(int) p.value().numel()];
        for (int i = 0; i < v.length; i++) {
            v[i] = std * gaussian();
        }
        p.value().copyFrom(v);
    }

    private double gaussian() {
        // Box–Muller, one value per call: the sequence depends only on the seed.
        double u1 = 1 - random.nextDouble();
        double u2 = random.nextDouble();
        return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
    }
}
