package dev.jnorm.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class ShapeTest {

    @Test
    void numelIsTheProductOfSizesAndOneForAScalar() {
        assertEquals(120, Shape.of(2, 3, 4, 5).numel());
        assertEquals(1, Shape.of().numel());
        assertEquals(0, Shape.of(3, 0, 2).numel());
    }

    @Test
    void sizesBeyondIntRangeAreExact() {
        assertEquals(3L << 32, Shape.of(3, 1L << 16, 1L << 16).numel());
    }

    @Test
    void overflowingProductIsRejected() {
        assertThrows(ArithmeticException.class, () -> Shape.of(1L << 40, 1L << 40));
    }

    @Test
    void negativeIndicesCountFromTheEndAndOutOfRangeUsesPyTorchWording() {
        Shape s = Shape.of(2, 3, 4);
        assertEquals(4, s.dim(-1));
        assertEquals(2, s.dim(-3));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> s.dim(3));
        assertEquals("Dimension out of range (expected to be in range of [-3, 2], but got 3)", e.getMessage());
    }

    @Test
    void printsLikePyTorchSizes() {
        assertEquals("[2, 3]", Shape.of(2, 3).toString());
        assertEquals("[]", Shape.of().toString());
    }

    @Test
    void equalityIsBySizes() {
        assertEquals(Shape.of(2, 3), Shape.of(2, 3));
        assertNotEquals(Shape.of(2, 3), Shape.of(3, 2));
        assertEquals(Shape.of(3, 4), Shape.of(2, 3, 4).slice(1, 3));
    }

    @Test
    void negativeSizesAreRejected() {
        assertThrows(IllegalArgumentException.class, () -> Shape.of(2, -1));
    }
}
