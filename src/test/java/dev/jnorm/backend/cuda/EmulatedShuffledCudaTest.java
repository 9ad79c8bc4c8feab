package dev.jnorm.backend.cuda;

import dev.jnorm.backend.cuda.internal.EmulatedDevice.Geometry;
import dev.jnorm.backend.cuda.internal.EmulatedDevice.Order;
import org.junit.jupiter.api.Tag;

/**
 * The longer race hunt: the contract on the H200 geometry with threads, warps and blocks shuffled
 * anew every round, from the seed {@code jnorm.emulator.seed} (1 by default), against a second run
 * from the next seed. Tag {@code long}, left out of the default run: {@code mvn test -Plong
 * -Djnorm.emulator.seed=N}, with as many seeds as there is time for.
 */
@Tag("long")
class EmulatedShuffledCudaTest extends EmulatedContract {
    EmulatedShuffledCudaTest() {
        super(Geometry.H200, Order.SHUFFLE, Order.SHUFFLE, Long.getLong("jnorm.emulator.seed", 1));
    }
}
