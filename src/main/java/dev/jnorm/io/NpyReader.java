package dev.jnorm.io;

import dev.jnorm.tensor.DType;
import dev.jnorm.tensor.Shape;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads NumPy {@code .npy} files (format versions 1, 2 and 3) holding little-endian float32
 * ({@code <f4}) or float64 ({@code <f8}) arrays in C order. Anything else is refused with an
 * {@link IllegalArgumentException} that names the file and what was wrong.
 */
public final class NpyReader {
    private static final byte[] MAGIC = {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y'};
    private static final Pattern DESCR = Pattern.compile("'descr'\\s*:\\s*'([^']*)'");
    private static final Pattern FORTRAN = Pattern.compile("'fortran_order'\\s*:\\s*(True|False)");
    private static final Pattern SHAPE = Pattern.compile("'shape'\\s*:\\s*\\(([^)]*)\\)");

    private NpyReader() {
    }

    /**
     * Reads a little-endian float16, float32 or float64 {@code .npy} file in C order.
     *
     * @param path the file
     * @return its shape, dtype and values
     * @throws IllegalArgumentException naming the file and what is wrong with it
     */
    public static NpyArray read(Path path) {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(path);
        } catch (NoSuchFileException e) {
            throw new IllegalArgumentException("cannot read " + path + ": no such file");
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read " + path + ": " + e.getMessage());
        }
        return parse(path.toString(), bytes);
    }

    static NpyArray parse(String name, byte[] bytes) {
        ByteBuffer buf = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        if (bytes.length < 10 || !startsWithMagic(bytes)) {
            throw bad(name, "not a .npy file (no \\x93NUMPY magic)");
        }
        int major = bytes[6];
        buf.position(8);
        long headerLength;
        if (major == 1) {
            headerLength = Short.toUnsignedInt(buf.getShort());
        } else if (major == 2 || major == 3) {
            if (bytes.length < 12) {
                throw bad(name, "truncated header");
            }
            headerLength = Integer.toUnsignedLong(buf.getInt());
        } else {
            throw bad(name, "unsupported .npy format version " + major);
        }
        int dataStart = buf.position() + (int) Math.min(headerLength, Integer.MAX_VALUE);
        if (headerLength > bytes.length - buf.position()) {
            throw bad(name, "truncated header");
        }
        String header = new String(bytes, buf.position(), (int) headerLength,
                major == 3 ? StandardCharsets.UTF_8 : StandardCharsets.ISO_8859_1);
        DType dtype = dtype(name, find(name, DESCR, header, "descr"));
        if (find(name, FORTRAN, header, "fortran_order").equals("True")) {
            throw bad(name, "Fortran-ordered arrays are not supported; save in C order");
        }
        Shape shape = shape(name, find(name, SHAPE, header, "shape"));
        long numel = shape.numel();
        long expected = numel * dtype.bytes();
        long available = bytes.length - (long) dataStart;
        if (available < expected) {
            throw bad(name, "truncated: shape " + shape + " needs " + expected + " bytes of data, found " + available);
        }
        if (available > expected) {
            throw bad(name, (available - expected) + " unexpected bytes after the data of shape " + shape);
        }
        if (numel > Integer.MAX_VALUE - 8) {
            throw bad(name, "too large to read into memory: " + numel + " elements");
        }
        double[] values = new double[(int) numel];
        buf.position(dataStart);
        for (int i = 0; i < values.length; i++) {
            values[i] = switch (dtype) {
                case FLOAT16 -> dtype.fromBits(buf.getShort());
                case FLOAT32 -> buf.getFloat();
                default -> buf.getDouble();
            };
        }
        return new NpyArray(shape, dtype, values);
    }

    private static boolean startsWithMagic(byte[] bytes) {
        for (int i = 0; i < MAGIC.length; i++) {
            if (bytes[i] != MAGIC[i]) {
                return false;
            }
        }
        return true;
    }

    private static String find(String name, Pattern pattern, String header, String key) {
        Matcher m = pattern.matcher(header);
        if (!m.find()) {
            throw bad(name, "header has no valid '" + key + "': " + header.strip());
        }
        return m.group(1);
    }

    private static DType dtype(String name, String descr) {
        for (DType t : DType.values()) {
            if (descr.equals(t.npyDescr())) {
                return t;
            }
        }
        throw bad(name, "unsupported dtype '" + descr + "'; jnorm reads little-endian float16 (<f2), float32 (<f4) or "
                + "float64 (<f8)");
    }

    private static Shape shape(String name, String tuple) {
        List<Long> dims = new ArrayList<>();
        for (String part : tuple.split(",")) {
            String p = part.strip();
            if (p.isEmpty()) {
                continue;
            }
            if (p.endsWith("L")) { // Python 2 longs
                p = p.substring(0, p.length() - 1);
            }
            try {
                dims.add(Long.parseLong(p));
            } catch (NumberFormatException e) {
                throw bad(name, "bad shape (" + tuple + ")");
            }
        }
        try {
            return Shape.of(dims.stream().mapToLong(Long::longValue).toArray());
        } catch (IllegalArgumentException | ArithmeticException e) {
            throw bad(name, "bad shape (" + tuple + ")");
        }
    }

    private static IllegalArgumentException bad(String name, String what) {
        return new IllegalArgumentException(name + ": " + what);
    }
}
