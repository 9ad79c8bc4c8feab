package dev.jnorm.backend.cuda.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * The kernels the backend launches ({@link Kernel} and {@link Kernels}, generated from the C
 * declarations) are exactly those the committed PTX and the emulator provide, with the same
 * parameters in the same order and of the same kinds, and the block size their launch bounds
 * declare; a launch refuses an unset parameter. With these, a wrong count, order or kind of
 * argument fails here or at compile time, without a GPU.
 */
class KernelInventoryTest {
    private static final Pattern ENTRY =
            Pattern.compile("\\.visible \\.entry (\\w+)\\(([^)]*)\\)\\s*\\.maxntid (\\d+), 1, 1");
    private static final Pattern PARAM = Pattern.compile("\\.param \\.(\\w+) ");
    private static final Pattern CLUSTER = Pattern.compile("\\.reqnctapercluster (\\d+), 1, 1");

    private static String ptx(String module) throws IOException {
        try (InputStream in = KernelInventoryTest.class.getResourceAsStream("/dev/jnorm/kernels/" + module + ".ptx")) {
            assertTrue(in != null, module + ".ptx is committed under src/main/resources/dev/jnorm/kernels");
            return new String(in.readAllBytes(), StandardCharsets.US_ASCII);
        }
    }

    private static String ptxType(Kernel.Parameter p) {
        return switch (p.kind()) {
            case POINTER, LONG -> "u64";
            case INT -> "u32";
            case FLOAT -> "f32";
        };
    }

    @Test
    void everyPtxEntryIsAKernelOfItsModuleWithItsParametersAndBlockSize() throws IOException {
        Set<String> modules = Arrays.stream(Kernel.values()).map(Kernel::module)
                .collect(Collectors.toCollection(TreeSet::new));
        for (String module : modules) {
            String text = ptx(module);
            // a *_sm90 module (thread-block clusters) targets compute_90, every other compute_75
            String target = module.endsWith("_sm90") ? "sm_90" : "sm_75";
            assertTrue(text.contains(".target " + target + "\n"), module + ".ptx targets " + target);
            Map<String, String> entries = new LinkedHashMap<>();
            Matcher m = ENTRY.matcher(text);
            while (m.find()) {
                List<String> types = new ArrayList<>();
                Matcher p = PARAM.matcher(m.group(2));
                while (p.find()) {
                    types.add(p.group(1));
                }
                String after = text.substring(m.end(), text.indexOf('{', m.end()));
                Matcher c = CLUSTER.matcher(after);
                entries.put(m.group(1), types + " threads " + m.group(3) + " cluster " + (c.find() ? c.group(1) : "1"));
            }
            Map<String, String> declared = new LinkedHashMap<>();
            for (Kernel k : Kernel.values()) {
                if (k.module().equals(module)) {
                    declared.put(k.entry(), k.parameters().stream().map(KernelInventoryTest::ptxType).toList()
                            + " threads " + k.block() + " cluster " + k.cluster());
                }
            }
            assertEquals(new TreeSet<>(declared.entrySet().stream().map(Object::toString).toList()),
                    new TreeSet<>(entries.entrySet().stream().map(Object::toString).toList()), module + ".ptx");
        }
    }

    @Test
    void theEmulatorRegistersEveryKernelWithItsDeclaredParameterKinds() {
        String reason = EmulatedDevice.unavailableReason();
        assumeTrue(reason == null, () -> "skipped: " + reason);
        Set<String> expected = Arrays.stream(Kernel.values()).map(Kernel::entry)
                .collect(Collectors.toCollection(TreeSet::new));
        Set<String> registered = Arrays.stream(EmulatedDevice.registeredKernels())
                .filter(name -> !name.startsWith("planted_")) // emulator/planted.cu: defects for its own tests
                .collect(Collectors.toCollection(TreeSet::new));
        assertEquals(expected, registered);
        for (Kernel k : Kernel.values()) {
            int[] kinds = k.parameters().stream().mapToInt(p -> p.kind().ordinal() + 1).toArray();
            assertArrayEquals(kinds, EmulatedDevice.registeredSignature(k.entry()), k.entry());
        }
    }

    @Test
    void aLaunchPassesEveryArgumentInDeclarationOrderAndRefusesAnUnsetOne() {
        List<Object> launched = new ArrayList<>();
        KernelLaunch.Launcher recorder = (kernel, grid, block, shared, args) -> {
            launched.add(kernel);
            launched.add(block);
            launched.addAll(Arrays.asList(args));
        };
        DevicePointer y = bytes -> null;
        Kernels.relu().n(7).y(y).x(null).launch(recorder, 1);
        assertEquals(Arrays.asList(Kernel.RELU, 256, null, y, 7L), launched);
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> Kernels.clampValues().x(y).hi(1f).launch(recorder, 1));
        assertEquals("clamp_values launched without n, lo", e.getMessage());
        launched.clear();
        Kernels.snLogitGrads().dMean(y).dVar(y).inMean(y).inVar(y).lnMean(y).lnVar(y).bnMean(y).bnVar(y)
                .meanLogits(y).varLogits(y).N(1).C(1).gradMeanLogits(y).gradVarLogits(y).launch(recorder, 1);
        assertEquals(1024, launched.get(1), "declared BIG_KERNEL");
    }
}
