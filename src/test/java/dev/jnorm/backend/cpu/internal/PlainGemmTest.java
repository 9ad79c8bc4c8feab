package dev.jnorm.backend.cpu.internal;

import dev.jnorm.backend.Backend;
import dev.jnorm.tensor.DType;
import dev.jnorm.testing.Close;
import dev.jnorm.testing.TestData;
import org.junit.jupiter.api.Test;

/**
 * The GEMM a library user gets without netlib's BLAS on the class path agrees with netlib's, for
 * every transpose, with beta 0 (C not read) and beta 1 (accumulate), in float64 and float32.
 */
class PlainGemmTest {
    private static final Backend CPU = Backend.cpu();

    @Test
    void agreesWithNetlibForEveryTransposeAndBeta() {
        int m = 5;
        int n = 7;
        int k = 3;
        for (DType dtype : new DType[] {DType.FLOAT64, DType.FLOAT32}) {
            double tolerance = dtype == DType.FLOAT64 ? 1e-12 : 1e-5;
            CpuNetworkOps ops = new CpuNetworkOps(new CpuKit(CPU));
            for (boolean ta : new boolean[] {false, true}) {
                for (boolean tb : new boolean[] {false, true}) {
                    for (float beta : new float[] {0, 1}) {
                        try (HostTensor a = (HostTensor) TestData.randn(CPU, 1, dtype, ta ? k : m, ta ? m : k);
                             HostTensor b = (HostTensor) TestData.randn(CPU, 2, dtype, tb ? n : k, tb ? k : n);
                             HostTensor netlib = (HostTensor) TestData.randn(CPU, 3, dtype, m, n);
                             HostTensor plain = (HostTensor) TestData.randn(CPU, 3, dtype, m, n)) {
                            ops.gemm(ta, tb, m, n, k, 0.5f, a, b, beta, netlib);
                            CpuNetworkOps.plainGemm(ta, tb, m, n, k, 0.5, a, b, beta, plain);
                            Close.assertClose(netlib.toDoubleArray(), plain.toDoubleArray(), tolerance, tolerance,
                                    dtype + " transposeA " + ta + " transposeB " + tb + " beta " + beta);
                        }
                    }
                }
            }
        }
    }
}
