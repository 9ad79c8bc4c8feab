package dev.jnorm.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** The per-kernel occupancy the docs state follows from the committed resources.tsv. */
class KernelTableTest {

    @Test
    void occupancyFollowsRegistersAndBlockSize() {
        // 138 registers: 4608 per warp (18 units of 256), 36,864 per 256-thread block: one block, 8 warps
        assertEquals(8, new KernelTable.Row("k", 138, 0, 256).warpsPerSm());
        // 32 registers: 1024 per warp; threads (2048 per SM) bound it at 8 blocks, 64 warps
        assertEquals(64, new KernelTable.Row("k", 32, 0, 256).warpsPerSm());
        // 56 registers and 1024 threads: 57,344 per block, one block, 32 warps
        assertEquals(32, new KernelTable.Row("k", 56, 0, 1024).warpsPerSm());
        // 68 registers: 2304 per warp, 18,432 per block: 3 blocks, 24 warps
        assertEquals(24, new KernelTable.Row("k", 68, 0, 256).warpsPerSm());
    }

    @Test
    void docsPerformanceCarriesTheTableOfTheCommittedKernels() throws IOException {
        String docs = Files.readString(Path.of("docs/performance.md"));
        String table = KernelTable.markdown();
        assertTrue(docs.contains(table), "docs/performance.md should carry the current table (registers from "
                + "resources.tsv changed?):\n" + table);
    }
}
