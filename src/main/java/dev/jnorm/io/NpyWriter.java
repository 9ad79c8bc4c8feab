package dev.jnorm.io;

import dev.jnorm.tensor.DType;
import dev.jnorm.tensor.Shape;
import dev.jnorm.tensor.Tensor;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Writes NumPy {@code .npy} files byte for byte as NumPy 1.24+ does: format 1.0 (2.0 when the
 * header needs it), the header padded to a multiple of 64 bytes with room to grow the first
 * dim, little-endian data in C order.
 */
public final class NpyWriter {
    private static final int ALIGN = 64;
    private static final int GROWTH_AXIS_MAX_DIGITS = 21;

    private NpyWriter() {
    }

    /**
     * Writes a tensor's contents as an {@code .npy} file in its dtype.
     *
     * @param path the file, replaced
     * @param t the tensor
     */
    public static void write(Path path, Tensor t) {
        write(path, NpyArray.of(t));
    }

    /**
     * Writes an array as a little-endian {@code .npy} file in C order, as the class says.
     *
     * @param path the file, replaced
     * @param array the array
     */
    public static void write(Path path, NpyArray array) {
        try {
            Files.write(path, bytes(array));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + path, e);
        }
    }

    /** The file's bytes; bfloat16, which NumPy lacks, is written as float32 (its values exactly). */
    static byte[] bytes(NpyArray array) {
        DType dtype = array.dtype() == DType.BFLOAT16 ? DType.FLOAT32 : array.dtype();
        byte[] header = header(array.shape(), dtype);
        ByteBuffer buf = ByteBuffer.allocate(header.length + array.values().length * dtype.bytes())
                .order(ByteOrder.LITTLE_ENDIAN);
        buf.put(header);
        for (double v : array.values()) {
            switch (dtype) {
                case FLOAT16 -> buf.putShort(dtype.toBits(v));
                case FLOAT32 -> buf.putFloat((float) v);
                default -> buf.putDouble(v);
            }
        }
        return buf.array();
    }

    private static byte[] header(Shape shape, DType dtype) {
        StringBuilder dict = new StringBuilder("{'descr': '").append(dtype.npyDescr())
                .append("', 'fortran_order': False, 'shape': ").append(pythonTuple(shape)).append(", }");
        if (shape.rank() > 0) {
            dict.append(" ".repeat(GROWTH_AXIS_MAX_DIGITS - Long.toString(shape.dim(0)).length()));
        }
        byte[] text = dict.toString().getBytes(StandardCharsets.ISO_8859_1);
        int textLength = text.length + 1; // the closing newline
        int version = 1;
        int prefix = 10; // magic, version, 2-byte length
        int pad = ALIGN - ((prefix + textLength) % ALIGN);
        if (textLength + pad > 65535) {
            version = 2;
            prefix = 12; // 4-byte length
            pad = ALIGN - ((prefix + textLength) % ALIGN);
        }
        int length = textLength + pad;
        ByteBuffer buf = ByteBuffer.allocate(prefix + length).order(ByteOrder.LITTLE_ENDIAN);
        buf.put(new byte[] {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', (byte) version, 0});
        if (version == 1) {
            buf.putShort((short) length);
        } else {
            buf.putInt(length);
        }
        buf.put(text);
        buf.put(" ".repeat(pad).getBytes(StandardCharsets.ISO_8859_1));
        buf.put((byte) '\n');
        return buf.array();
    }

    /** Python's repr of a shape tuple: {@code ()}, {@code (3,)}, {@code (2, 3)}. */
    private static String pythonTuple(Shape shape) {
        long[] dims = shape.dims();
        if (dims.length == 1) {
            return "(" + dims[0] + ",)";
        }
        StringBuilder s = new StringBuilder("(");
        for (int i = 0; i < dims.length; i++) {
            s.append(i == 0 ? "" : ", ").append(dims[i]);
        }
        return s.append(')').toString();
    }
}
