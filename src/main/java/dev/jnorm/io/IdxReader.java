package dev.jnorm.io;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.zip.GZIPInputStream;
import java.util.zip.ZipException;

/**
 * Reads IDX files of unsigned bytes (the MNIST format: a big-endian magic 0x0000 0x08 rank, the
 * sizes as big-endian 32-bit integers, then the data), gzip-compressed when the name ends in
 * {@code .gz}. A corrupt or truncated file is refused with an {@link IllegalArgumentException}
 * that names it and says what is wrong.
 */
public final class IdxReader {
    private static final int UNSIGNED_BYTE = 0x08;

    private IdxReader() {
    }

    /** The sizes and the values of one IDX file. */
    public record IdxArray(int[] dims, byte[] data) {
        /**
         * The number of items: the first size.
         *
         * @return the items in the file
         */
        public int count() {
            return dims[0];
        }
    }

    /**
     * Reads an IDX file of unsigned bytes, gzipped where its name ends with {@code .gz}.
     *
     * @param file the file
     * @return its sizes and values
     * @throws IllegalArgumentException where it is missing or not such a file
     */
    public static IdxArray read(Path file) {
        byte[] bytes;
        try (InputStream raw = Files.newInputStream(file);
             InputStream in = file.toString().endsWith(".gz") ? new GZIPInputStream(raw) : raw) {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            in.transferTo(out);
            bytes = out.toByteArray();
        } catch (NoSuchFileException e) {
            throw new IllegalArgumentException(file + ": no such file");
        } catch (ZipException | java.io.EOFException e) {
            throw new IllegalArgumentException(file + ": corrupt or truncated gzip data (" + e.getMessage() + ")");
        } catch (IOException e) {
            throw new IllegalArgumentException(file + ": cannot be read (" + e.getMessage() + ")");
        }
        return parse(file.toString(), bytes);
    }

    static IdxArray parse(String name, byte[] bytes) {
        if (bytes.length < 4 || bytes[0] != 0 || bytes[1] != 0) {
            throw new IllegalArgumentException(name + ": not an IDX file (bad magic number)");
        }
        if (bytes[2] != UNSIGNED_BYTE) {
            throw new IllegalArgumentException(name + ": IDX type 0x" + Integer.toHexString(bytes[2] & 0xff)
                    + " is not supported; only unsigned bytes (0x08)");
        }
        int rank = bytes[3] & 0xff;
        if (rank < 1 || bytes.length < 4 + 4 * rank) {
            throw new IllegalArgumentException(name + ": truncated IDX header");
        }
        ByteBuffer header = ByteBuffer.wrap(bytes, 4, 4 * rank);
        int[] dims = new int[rank];
        long size = 1;
        for (int i = 0; i < rank; i++) {
            dims[i] = header.getInt();
            if (dims[i] < 0) {
                throw new IllegalArgumentException(name + ": negative size in the IDX header");
            }
            size *= dims[i];
        }
        long available = bytes.length - 4L - 4L * rank;
        if (available != size) {
            throw new IllegalArgumentException(name + ": " + (available < size ? "truncated" : "corrupt")
                    + ": the header promises " + size + " values, the file holds " + available);
        }
        byte[] data = new byte[(int) size];
        System.arraycopy(bytes, 4 + 4 * rank, data, 0, data.length);
        return new IdxArray(dims, data);
    }
}
