package dev.jnorm.backend.cpu.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;

import dev.jnorm.backend.Backend;
import dev.jnorm.backend.cpu.CpuBackend;
import dev.jnorm.tensor.DType;
import dev.jnorm.tensor.Shape;
import dev.jnorm.tensor.Tensor;
import org.junit.jupiter.api.Test;

class FloatPoolTest {
    private static final int LONG = FloatPool.MIN_LENGTH;

    @Test
    void aGivenArrayIsTakenAgainByItsLengthOnly() {
        FloatPool pool = new FloatPool(1 << 20);
        float[] a = pool.take(LONG);
        pool.give(a);
        assertEquals(4L * LONG, pool.keptBytes());
        assertNotSame(a, pool.take(LONG + 1), "another length: a new array");
        assertSame(a, pool.take(LONG));
        assertEquals(0, pool.keptBytes());
        assertNotSame(a, pool.take(LONG), "taken once");
    }

    @Test
    void clearDropsWhatIsKept() {
        FloatPool pool = new FloatPool(1 << 20);
        float[] a = new float[LONG];
        pool.give(a);
        pool.clear();
        assertEquals(0, pool.keptBytes());
        assertNotSame(a, pool.take(LONG));
    }

    @Test
    void keepsNeitherShortArraysNorMoreThanItsCapacity() {
        FloatPool pool = new FloatPool(4L * LONG);
        float[] small = new float[LONG - 1];
        pool.give(small);
        assertNotSame(small, pool.take(LONG - 1));
        float[] first = new float[LONG];
        float[] second = new float[LONG];
        pool.give(first);
        pool.give(second); // over capacity: dropped
        assertEquals(4L * LONG, pool.keptBytes());
        assertSame(first, pool.take(LONG));
        assertNotSame(second, pool.take(LONG));
    }

    /**
     * A closed float32 tensor's storage serves the next empty tensor of its length, not a zero-filled
     * one, and closing a view gives nothing back (its base still holds the storage).
     */
    @Test
    void theBackendReusesClosedStorageForEmptyTensorsOnly() {
        Backend cpu = new CpuBackend();
        Shape shape = Shape.of(2, LONG);
        Tensor a = cpu.empty(shape, DType.FLOAT32);
        float[] storage = ((HostTensor) a).floatStorage();
        a.view(LONG, Shape.of(LONG)).close();
        Tensor b = cpu.empty(shape, DType.FLOAT32);
        assertNotSame(storage, ((HostTensor) b).floatStorage(), "the view's close gave nothing back");
        ((HostTensor) a).fill(3);
        a.close();
        a.close(); // idempotent: given back once
        try (Tensor zeros = cpu.allocate(shape, DType.FLOAT32)) {
            assertNotSame(storage, ((HostTensor) zeros).floatStorage(), "allocate is zeros: a new array");
        }
        try (Tensor c = cpu.empty(shape, DType.FLOAT32); Tensor d = cpu.empty(shape, DType.FLOAT32)) {
            assertSame(storage, ((HostTensor) c).floatStorage());
            assertNotSame(storage, ((HostTensor) d).floatStorage());
        }
        b.close();
    }
}
