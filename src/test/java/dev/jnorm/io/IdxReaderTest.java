package dev.jnorm.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The IDX reader on small files written here byte by byte, as MNIST's are. */
class IdxReaderTest {

    static byte[] idx(int[] dims, byte[] data) {
        ByteBuffer b = ByteBuffer.allocate(4 + 4 * dims.length + data.length);
        b.put(new byte[] {0, 0, 0x08, (byte) dims.length});
        for (int d : dims) {
            b.putInt(d);
        }
        return b.put(data).array();
    }

    static byte[] gzip(byte[] bytes) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (GZIPOutputStream z = new GZIPOutputStream(out)) {
            z.write(bytes);
        }
        return out.toByteArray();
    }

    @Test
    void readsImagesAndLabelsPlainOrGzipped(@TempDir Path dir) throws IOException {
        byte[] pixels = new byte[2 * 3 * 4];
        for (int i = 0; i < pixels.length; i++) {
            pixels[i] = (byte) (i * 10);
        }
        Files.write(dir.resolve("images-idx3-ubyte"), idx(new int[] {2, 3, 4}, pixels));
        Files.write(dir.resolve("labels-idx1-ubyte.gz"), gzip(idx(new int[] {2}, new byte[] {7, (byte) 200})));
        IdxReader.IdxArray images = IdxReader.read(dir.resolve("images-idx3-ubyte"));
        assertArrayEquals(new int[] {2, 3, 4}, images.dims());
        assertEquals(2, images.count());
        assertArrayEquals(pixels, images.data());
        IdxReader.IdxArray labels = IdxReader.read(dir.resolve("labels-idx1-ubyte.gz"));
        assertEquals(200, labels.data()[1] & 0xff, "unsigned bytes");
    }

    @Test
    void refusesCorruptAndTruncatedFilesWithTheReason(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("x-idx1-ubyte");
        Files.write(file, idx(new int[] {5}, new byte[] {1, 2, 3}));
        assertEquals(file + ": truncated: the header promises 5 values, the file holds 3",
                assertThrows(IllegalArgumentException.class, () -> IdxReader.read(file)).getMessage());
        Files.write(file, idx(new int[] {2}, new byte[] {1, 2, 3}));
        assertEquals(file + ": corrupt: the header promises 2 values, the file holds 3",
                assertThrows(IllegalArgumentException.class, () -> IdxReader.read(file)).getMessage());
        Files.write(file, new byte[] {1, 2, 3, 4, 5});
        assertEquals(file + ": not an IDX file (bad magic number)",
                assertThrows(IllegalArgumentException.class, () -> IdxReader.read(file)).getMessage());
        Files.write(file, new byte[] {0, 0, 0x0D, 1, 0, 0, 0, 0});
        assertEquals(file + ": IDX type 0xd is not supported; only unsigned bytes (0x08)",
                assertThrows(IllegalArgumentException.class, () -> IdxReader.read(file)).getMessage());
        Path gz = dir.resolve("y-idx1-ubyte.gz");
        byte[] zipped = gzip(idx(new int[] {1000}, new byte[1000]));
        Files.write(gz, Arrays.copyOf(zipped, zipped.length / 2));
        String message = assertThrows(IllegalArgumentException.class, () -> IdxReader.read(gz)).getMessage();
        assertTrue(message.startsWith(gz + ": corrupt or truncated gzip data"), message);
        assertEquals(dir.resolve("absent.gz") + ": no such file",
                assertThrows(IllegalArgumentException.class, () -> IdxReader.read(dir.resolve("absent.gz"))).getMessage());
    }
}
