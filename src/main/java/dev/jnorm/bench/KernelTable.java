package dev.jnorm.bench;

import dev.jnorm.backend.cuda.internal.KernelStreams;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The static side of the roofline, per kernel, on an H100/H200 (sm_90: 65,536 registers, 2048
 * threads and 32 blocks per SM): registers from ptxas (resources.tsv), the warps per SM they and the
 * block size allow (shared memory aside: the block-per-row kernels take as much as the row needs),
 * and, for the kernels that stream tensors, the bytes each thread has in flight by construction
 * (loads issued before the first is used) and what that makes per SM, against the 20–25 KB an
 * H100/H200 needs in flight to reach its bandwidth.
 */
public final class KernelTable {
    private static final int REGISTERS_PER_SM = 65536;
    private static final int THREADS_PER_SM = 2048;
    private static final int BLOCKS_PER_SM = 32;
    private static final int REGISTER_UNIT = 256; // registers are allocated per warp in units of 256

    /** One kernel's row: its resources and what they allow. */
    record Row(String kernel, int registers, int staticShared, int blockThreads) {
        /** Warps one SM holds, by registers, threads and blocks per SM. */
        int warpsPerSm() {
            int warpsPerBlock = blockThreads / 32;
            int perWarp = (registers * 32 + REGISTER_UNIT - 1) / REGISTER_UNIT * REGISTER_UNIT;
            int blocks = Math.min(BLOCKS_PER_SM, Math.min(THREADS_PER_SM / blockThreads,
                    REGISTERS_PER_SM / (perWarp * warpsPerBlock)));
            return blocks * warpsPerBlock;
        }
    }

    private KernelTable() {
    }

    /** The kernel's resources, as resources.tsv gives them. */
    static Row row(String kernel) {
        return ROWS.stream().filter(r -> r.kernel().equals(kernel)).findFirst()
                .orElseThrow(() -> new IllegalArgumentException("no kernel " + kernel + " in resources.tsv"));
    }

    private static final List<Row> ROWS = read();

    /** Every kernel of the committed PTX, as resources.tsv lists them. */
    static List<Row> rows() {
        return ROWS;
    }

    private static List<Row> read() {
        List<Row> rows = new ArrayList<>();
        try (InputStream in = KernelTable.class.getResourceAsStream("/dev/jnorm/kernels/resources.tsv");
             BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
            for (String line = r.readLine(); line != null; line = r.readLine()) {
                if (line.startsWith("#") || line.isBlank()) {
                    continue;
                }
                String[] f = line.split("\t");
                rows.add(new Row(f[0], Integer.parseInt(f[1]), Integer.parseInt(f[2]), Integer.parseInt(f[3])));
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return List.copyOf(rows);
    }

    /** The table of the streaming kernels, as docs/performance.md carries it. */
    public static String markdown() {
        StringBuilder s = new StringBuilder("| kernel | registers | block | warps/SM | access | in flight per thread | "
                + "in flight per SM |\n| --- | ---: | ---: | ---: | ---: | --- | ---: |\n");
        for (Row row : rows()) {
            KernelStreams.Stream stream = KernelStreams.of(row.kernel());
            if (stream == null) {
                continue;
            }
            int warps = row.warpsPerSm();
            s.append(String.format("| %s | %d | %d | %d | %d B | %d B: %s | %.1f KB |%n", row.kernel(), row.registers(),
                    row.blockThreads(), warps, stream.accessBytes(), stream.bytesInFlight(), stream.how(),
                    warps * 32.0 * stream.bytesInFlight() / 1024));
        }
        return s.toString();
    }
}
