package dev.jnorm.backend.cuda.internal;

import dev.jnorm.backend.cuda.DeviceInfo;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The committed PTX modules ({@code dev/jnorm/kernels/<module>.ptx}) and the drivers that load them:
 * a driver JIT-compiles PTX of the ISA versions its CUDA release knows, and no newer.
 */
final class Ptx {
    private static final Pattern VERSION = Pattern.compile("(?m)^\\.version (\\d+\\.\\d+)$");
    /** The CUDA release that introduced each PTX ISA version (NVIDIA's PTX ISA release notes). */
    private static final Map<String, String> CUDA_FOR_ISA = Map.ofEntries(
            Map.entry("7.0", "11.0"), Map.entry("7.1", "11.1"), Map.entry("7.2", "11.2"), Map.entry("7.3", "11.3"),
            Map.entry("7.4", "11.4"), Map.entry("7.5", "11.5"), Map.entry("7.6", "11.6"), Map.entry("7.7", "11.7"),
            Map.entry("7.8", "11.8"), Map.entry("8.0", "12.0"), Map.entry("8.1", "12.1"), Map.entry("8.2", "12.2"),
            Map.entry("8.3", "12.3"), Map.entry("8.4", "12.4"), Map.entry("8.5", "12.5"), Map.entry("8.6", "12.7"),
            Map.entry("8.7", "12.8"), Map.entry("8.8", "12.9"), Map.entry("9.0", "13.0"));

    private Ptx() {
    }

    /** The text of a module's PTX. */
    static byte[] read(String module) throws IOException {
        String resource = "/dev/jnorm/kernels/" + module + ".ptx";
        try (InputStream in = Ptx.class.getResourceAsStream(resource)) {
            if (in == null) {
                throw new IOException("missing resource " + resource);
            }
            return in.readAllBytes();
        }
    }

    /** The {@code .version} a module's PTX declares. */
    static String isa(String module) {
        try {
            Matcher m = VERSION.matcher(new String(read(module), StandardCharsets.US_ASCII));
            if (!m.find()) {
                throw new IllegalStateException(module + ".ptx declares no .version");
            }
            return m.group(1);
        } catch (IOException e) {
            throw new IllegalStateException(e.getMessage(), e);
        }
    }

    /** Whether {@code device} loads kernel {@code k}: those of thread-block clusters only where it has them. */
    static boolean loadedOn(Kernel k, DeviceInfo device) {
        return k.cluster() == 1 || device.hasClusters();
    }

    /** The highest ISA version of the modules {@code device} loads: what its driver must know. */
    static String highestIsa(DeviceInfo device) {
        return Arrays.stream(Kernel.values()).filter(k -> loadedOn(k, device)).map(Kernel::module).distinct()
                .map(Ptx::isa)
                .max((a, b) -> Double.compare(Double.parseDouble(a), Double.parseDouble(b))).orElseThrow();
    }

    /** The first CUDA release whose drivers load PTX of ISA {@code isa}. */
    static String cudaForIsa(String isa) {
        String cuda = CUDA_FOR_ISA.get(isa);
        if (cuda == null) {
            throw new IllegalArgumentException("unknown PTX ISA " + isa);
        }
        return cuda;
    }
}
