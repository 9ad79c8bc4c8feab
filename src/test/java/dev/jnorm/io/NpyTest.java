package dev.jnorm.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jnorm.tensor.DType;
import dev.jnorm.tensor.Shape;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Reads files NumPy 1.24 wrote (src/test/python/make_npy_samples.py) and writes them back byte for byte. */
class NpyTest {

    static Path sample(String name) {
        try {
            return Path.of(NpyTest.class.getResource("/npy/" + name + ".npy").toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The values make_npy_samples.py stores: k·0.5 − 1 in C order. */
    static double[] expectedValues(int n) {
        double[] v = new double[n];
        for (int k = 0; k < n; k++) {
            v[k] = k * 0.5 - 1;
        }
        return v;
    }

    @ParameterizedTest
    @CsvSource({
        "f4_2x3, FLOAT32, 2x3",
        "f2_2x3, FLOAT16, 2x3",
        "f8_2x3, FLOAT64, 2x3",
        "f4_vector_5, FLOAT32, 5",
        "f8_scalar, FLOAT64, ''",
        "f8_2x3x4x5, FLOAT64, 2x3x4x5",
        "f4_empty_0x3, FLOAT32, 0x3",
        "f8_long_dim_123456789x0, FLOAT64, 123456789x0",
        "f4_2x3_version2, FLOAT32, 2x3",
    })
    void readsNumpyFilesAndWritesTheSameBytes(String name, DType dtype, String dims) throws IOException {
        NpyArray a = NpyReader.read(sample(name));
        Shape shape = dims.isEmpty() ? Shape.of() : Shape.of(java.util.Arrays.stream(dims.split("x"))
                .mapToLong(Long::parseLong).toArray());
        assertEquals(shape, a.shape());
        assertEquals(dtype, a.dtype());
        assertArrayEquals(expectedValues((int) shape.numel()), a.values());
        if (!name.endsWith("version2")) { // NumPy writes format 1.0 unless told otherwise, as we do
            assertArrayEquals(Files.readAllBytes(sample(name)), NpyWriter.bytes(a), name + ": bytes");
        }
    }

    @Test
    void bfloat16IsWrittenAsFloat32HoldingItsValues() {
        NpyArray a = new NpyArray(Shape.of(2), DType.BFLOAT16, new double[] {1.0078125, -3.0});
        NpyArray b = NpyReader.parse("bf16", NpyWriter.bytes(a));
        assertEquals(DType.FLOAT32, b.dtype());
        assertArrayEquals(a.values(), b.values());
    }

    @Test
    void writtenFilesReadBackWithA64ByteAlignedHeader(@TempDir Path dir) throws IOException {
        NpyArray a = new NpyArray(Shape.of(3, 1, 2), DType.FLOAT64, new double[] {1, -2, 3.5, Math.PI, 0, -0.0});
        Path file = dir.resolve("a.npy");
        NpyWriter.write(file, a);
        NpyArray b = NpyReader.read(file);
        assertEquals(a.shape(), b.shape());
        assertArrayEquals(a.values(), b.values());
        long headerBytes = Files.size(file) - 6 * 8;
        assertEquals(0, headerBytes % 64, "header length " + headerBytes);
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "big_endian_f8|unsupported dtype '>f8'; jnorm reads little-endian float16 (<f2), float32 (<f4) or float64 (<f8)",
        "int64_3|unsupported dtype '<i8'; jnorm reads little-endian float16 (<f2), float32 (<f4) or float64 (<f8)",
        "fortran_f8_2x3|Fortran-ordered arrays are not supported; save in C order",
        "truncated_f8_2x3|truncated: shape [2, 3] needs 48 bytes of data, found 43",
    })
    void refusesWhatItCannotReadWithTheReason(String name, String reason) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> NpyReader.read(sample(name)));
        assertEquals(sample(name) + ": " + reason, e.getMessage());
    }

    @Test
    void refusesFilesThatAreNotNpy(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("x.npy");
        Files.writeString(file, "hello, world");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> NpyReader.read(file));
        assertTrue(e.getMessage().endsWith("not a .npy file (no \\x93NUMPY magic)"), e.getMessage());
        IllegalArgumentException missing = assertThrows(IllegalArgumentException.class,
                () -> NpyReader.read(dir.resolve("absent.npy")));
        assertEquals("cannot read " + dir.resolve("absent.npy") + ": no such file", missing.getMessage());
    }
}
