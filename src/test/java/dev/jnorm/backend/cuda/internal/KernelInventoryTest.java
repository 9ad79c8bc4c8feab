package dev.jnorm.backend.cuda.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/** The kernels the backend launches are exactly those the committed PTX and the emulator provide. */
class KernelInventoryTest {
    private static final Pattern ENTRY = Pattern.compile("\\.visible \\.entry (\\w+)\\(");

    private static String ptx(String module) throws IOException {
        try (InputStream in = KernelInventoryTest.class.getResourceAsStream("/dev/jnorm/kernels/" + module + ".ptx")) {
            assertTrue(in != null, module + ".ptx is committed under src/main/resources/dev/jnorm/kernels");
            return new String(in.readAllBytes(), StandardCharsets.US_ASCII);
        }
    }

    @Test
    void everyPtxEntryIsAKernelOfItsModuleAndBack() throws IOException {
        Set<String> modules = Arrays.stream(Kernel.values()).map(Kernel::module).collect(Collectors.toCollection(TreeSet::new));
        for (String module : modules) {
            String text = ptx(module);
            assertTrue(text.contains(".target sm_75"), module + ".ptx targets compute_75");
            Set<String> entries = new TreeSet<>();
            Matcher m = ENTRY.matcher(text);
            while (m.find()) {
                entries.add(m.group(1));
            }
            Set<String> expected = Arrays.stream(Kernel.values()).filter(k -> k.module().equals(module))
                    .map(Kernel::entry).collect(Collectors.toCollection(TreeSet::new));
            assertEquals(expected, entries, module + ".ptx");
        }
    }

    @Test
    void theEmulatorRegistersEveryKernel() {
        String reason = EmulatedDevice.unavailableReason();
        assumeTrue(reason == null, () -> "skipped: " + reason);
        Set<String> expected = Arrays.stream(Kernel.values()).map(Kernel::entry).collect(Collectors.toCollection(TreeSet::new));
        Set<String> registered = Arrays.stream(EmulatedDevice.registeredKernels())
                .filter(name -> !name.startsWith("planted_")) // emulator/planted.cu: defects for its own tests
                .collect(Collectors.toCollection(TreeSet::new));
        assertEquals(expected, registered);
    }
}
