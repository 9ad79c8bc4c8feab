package dev.jnorm.backend.cuda.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jnorm.backend.cuda.DeviceInfo;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/** The committed PTX loads on CUDA 12.0 drivers, and a driver that refuses it is told what it needs. */
class PtxTest {

    @Test
    void everyModuleDeclaresAnIsaThatCuda12DriversLoad() {
        Arrays.stream(Kernel.values()).map(Kernel::module).distinct().forEach(module -> {
            String isa = Ptx.isa(module);
            assertTrue(Double.parseDouble(isa) <= 8.0, module + ".ptx declares ISA " + isa);
            assertTrue(Double.parseDouble(Ptx.cudaForIsa(isa)) <= 12.0, module + ".ptx needs CUDA "
                    + Ptx.cudaForIsa(isa));
        });
    }

    @Test
    void aDriverThatRefusesThePtxIsToldWhichItNeeds() {
        DeviceInfo old = new DeviceInfo("Tesla T4", 7, 5, 40, 65536, 4 << 20, 16L << 30, "10.2");
        assertEquals("the PTX kernels did not load on Tesla T4 (sm_75, 40 SMs, 16384 MiB, driver 10.2): "
                + "cuModuleLoadData stats.ptx failed with CUDA_ERROR_UNSUPPORTED_PTX_VERSION (they are PTX ISA 8.0, "
                + "which needs an NVIDIA driver for CUDA 12.0 or newer; this driver is for CUDA 10.2)",
                JCudaDevice.kernelsDidNotLoad(old, "cuModuleLoadData stats.ptx failed with "
                        + "CUDA_ERROR_UNSUPPORTED_PTX_VERSION", "8.0"));
        assertEquals("13.0", Ptx.cudaForIsa("9.0"));
        // a device without thread-block clusters does not load the *_sm90 modules, whose ISA is 7.8
        assertEquals("7.0", Ptx.highestIsa(old));
        assertEquals("7.8", Ptx.highestIsa(new DeviceInfo("NVIDIA H200", 9, 0, 132, 232448, 50 << 20, 141L << 30,
                "12.4")));
        assertEquals("11.0", Ptx.cudaForIsa("7.0"));
    }
}
