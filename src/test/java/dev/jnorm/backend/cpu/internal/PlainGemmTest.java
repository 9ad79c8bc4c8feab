package dev.jnorm.backend.cpu.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.jnorm.backend.Backend;
import dev.jnorm.tensor.DType;
import dev.jnorm.tensor.Shape;
import dev.jnorm.tensor.Tensor;
import dev.jnorm.testing.Close;
import dev.jnorm.testing.TestData;
import org.junit.jupiter.api.Test;

/**
 * The GEMM a library user gets without a native BLAS on the class path agrees with the native one
 * (OpenBLAS here), for every transpose, with beta 0 (C not read) and beta 1 (accumulate), in
 * float64 and float32, the native one's operands being views at offsets into larger tensors.
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
                        // the native GEMM's operands are views at offsets 3, 5 and 2 of larger tensors
                        try (HostTensor a = (HostTensor) TestData.randn(CPU, 1, dtype, ta ? k : m, ta ? m : k);
                             HostTensor b = (HostTensor) TestData.randn(CPU, 2, dtype, tb ? n : k, tb ? k : n);
                             HostTensor netlib = (HostTensor) TestData.randn(CPU, 3, dtype, m, n);
                             HostTensor plain = (HostTensor) TestData.randn(CPU, 3, dtype, m, n);
                             Tensor bigA = CPU.allocate(Shape.of(a.numel() + 6), dtype);
                             Tensor bigB = CPU.allocate(Shape.of(b.numel() + 6), dtype);
                             Tensor bigC = CPU.allocate(Shape.of(netlib.numel() + 6), dtype)) {
                            Tensor va = bigA.view(3, a.shape());
                            Tensor vb = bigB.view(5, b.shape());
                            Tensor vc = bigC.view(2, netlib.shape());
                            CPU.copy(a, va);
                            CPU.copy(b, vb);
                            CPU.copy(netlib, vc);
                            ops.gemm(ta, tb, m, n, k, 0.5f, va, vb, beta, vc);
                            double[] all = bigC.toDoubleArray();
                            assertEquals(0, all[0] + all[1] + all[all.length - 4] + all[all.length - 1],
                                    "nothing written outside the view");
                            CPU.copy(vc, netlib);
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
