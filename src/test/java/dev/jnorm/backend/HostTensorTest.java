package dev.jnorm.backend;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jnorm.tensor.DType;
import dev.jnorm.tensor.Shape;
import dev.jnorm.tensor.Tensor;
import dev.jnorm.testing.Cuda;
import org.junit.jupiter.api.Test;

class HostTensorTest {
    private final Backend cpu = Backend.cpu();

    @Test
    void closeIsIdempotentAndAClosedTensorRefusesUse() {
        Tensor t = cpu.allocate(Shape.of(3), DType.FLOAT32);
        t.close();
        t.close();
        assertTrue(t.isClosed());
        IllegalStateException e = assertThrows(IllegalStateException.class, t::toFloatArray);
        assertEquals("tensor [3] is closed", e.getMessage());
    }

    @Test
    void aViewSharesStorageAtItsOffsetAndClosesWithItsBase() {
        Tensor base = cpu.upload(new double[] {0, 1, 2, 3, 4, 5}, Shape.of(6));
        Tensor view = base.view(1, Shape.of(2, 2));
        assertArrayEquals(new double[] {1, 2, 3, 4}, view.toDoubleArray());
        view.copyFrom(new double[] {10, 20, 30, 40});
        assertArrayEquals(new double[] {0, 10, 20, 30, 40, 5}, base.toDoubleArray());
        view.close();
        assertFalse(base.isClosed(), "closing a view frees nothing");
        Tensor second = base.view(0, Shape.of(1));
        base.close();
        assertTrue(second.isClosed());
    }

    @Test
    void aViewMustFitInItsBase() {
        Tensor base = cpu.allocate(Shape.of(4), DType.FLOAT64);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> base.view(2, Shape.of(3)));
        assertEquals("view of [3] at offset 2 does not fit in a tensor of [4]", e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> base.reshape(Shape.of(5)));
    }

    @Test
    void float32StorageRoundsOnWriteAndReadsBackExactly() {
        Tensor t = cpu.allocate(Shape.of(2), DType.FLOAT32);
        t.copyFrom(new double[] {0.1, 1e-45});
        assertArrayEquals(new double[] {(float) 0.1, (float) 1e-45}, t.toDoubleArray());
        assertArrayEquals(new float[] {0.1f, 1e-45f}, t.toFloatArray());
    }

    @Test
    void copyFromNeedsExactlyOneValuePerElement() {
        Tensor t = cpu.allocate(Shape.of(2, 2), DType.FLOAT64);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> t.copyFrom(new double[3]));
        assertEquals("expected 4 values for a tensor of [2, 2], got 3", e.getMessage());
    }

    @Test
    void fillAndCopyWorkAcrossDtypes() {
        Tensor a = cpu.allocate(Shape.of(3), DType.FLOAT64);
        cpu.fill(a, 2.5);
        Tensor b = cpu.allocate(Shape.of(3), DType.FLOAT32);
        cpu.copy(a, b);
        assertArrayEquals(new float[] {2.5f, 2.5f, 2.5f}, b.toFloatArray());
    }

    @Test
    void autoPicksCudaWhereUsableElseTheCpuAndNamesAreChecked() {
        boolean cuda = Cuda.unavailableReason() == null;
        try (Backend auto = Backend.auto()) {
            assertEquals(cuda ? "cuda" : "cpu", auto.name());
        }
        assertEquals("cpu", Backend.named("cpu").name());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Backend.named("tpu"));
        assertEquals("backend must be cpu, cuda, emulated or auto; got 'tpu'", e.getMessage());
    }
}
