package dev.jnorm.backend.cuda.internal;

import dev.jnorm.backend.cuda.CudaException;
import dev.jnorm.tensor.DType;
import jcuda.Pointer;
import jcuda.cudaDataType;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUstream;
import jcuda.jcublas.JCublas2;
import jcuda.jcublas.cublasComputeType;
import jcuda.jcublas.cublasGemmAlgo;
import jcuda.jcublas.cublasHandle;
import jcuda.jcublas.cublasOperation;
import jcuda.jcublas.cublasStatus;
import jcuda.runtime.cudaStream_t;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * cuBLAS through JCublas2, on the device's stream; or, where {@code libcublas.so.12} cannot be
 * loaded (a CUDA 13 machine has libcublas.so.13), nothing: {@link #sgemm} then returns false and
 * the backend uses its own GEMM kernel, after one warning.
 */
final class Blas implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(Blas.class);
    private final cublasHandle handle;

    private Blas(cublasHandle handle) {
        this.handle = handle;
    }

    static Blas open(CUstream stream) {
        try {
            JCublas2.setExceptionsEnabled(false);
            cublasHandle handle = new cublasHandle();
            int status = JCublas2.cublasCreate(handle);
            if (status != cublasStatus.CUBLAS_STATUS_SUCCESS) {
                LOG.warn("cuBLAS did not start ({}): using jnorm's own GEMM kernel", cublasStatus.stringFor(status));
                return new Blas(null);
            }
            status = JCublas2.cublasSetStream(handle, new cudaStream_t(stream));
            if (status != cublasStatus.CUBLAS_STATUS_SUCCESS) {
                LOG.warn("cuBLAS could not take the backend's stream ({}): using jnorm's own GEMM kernel",
                        cublasStatus.stringFor(status));
                JCublas2.cublasDestroy(handle);
                return new Blas(null);
            }
            return new Blas(handle);
        } catch (UnsatisfiedLinkError | NoClassDefFoundError e) {
            LOG.warn("cuBLAS 12 could not be loaded (libcublas.so.12 missing?): using jnorm's own GEMM kernel");
            return new Blas(null);
        }
    }

    /**
     * Row-major C = op(A)·op(B) as column-major Cᵀ = op(B)ᵀ·op(A)ᵀ; false without cuBLAS. float32
     * inputs go to {@code cublasSgemm}; 16-bit ones to {@code cublasGemmEx} with fp32 accumulation
     * ({@code CUBLAS_COMPUTE_32F}, no reduced-precision shortcuts), C float32 or the inputs' type.
     */
    boolean gemm(boolean transposeA, boolean transposeB, int m, int n, int k, float alpha, CUdeviceptr a, int lda,
                 CUdeviceptr b, int ldb, float beta, CUdeviceptr c, DType inputs, DType output) {
        if (handle == null) {
            return false;
        }
        int opB = transposeB ? cublasOperation.CUBLAS_OP_T : cublasOperation.CUBLAS_OP_N;
        int opA = transposeA ? cublasOperation.CUBLAS_OP_T : cublasOperation.CUBLAS_OP_N;
        Pointer one = Pointer.to(new float[] {alpha});
        Pointer scale = Pointer.to(new float[] {beta});
        int status = inputs == DType.FLOAT32
                ? JCublas2.cublasSgemm(handle, opB, opA, n, m, k, one, b, ldb, a, lda, scale, c, n)
                : JCublas2.cublasGemmEx(handle, opB, opA, n, m, k, one, b, dataType(inputs), ldb, a,
                        dataType(inputs), lda, scale, c, dataType(output), n, cublasComputeType.CUBLAS_COMPUTE_32F,
                        cublasGemmAlgo.CUBLAS_GEMM_DEFAULT);
        if (status != cublasStatus.CUBLAS_STATUS_SUCCESS) {
            throw new CudaException((inputs == DType.FLOAT32 ? "cublasSgemm" : "cublasGemmEx") + " failed with "
                    + cublasStatus.stringFor(status), "CUBLAS_ERROR", false);
        }
        return true;
    }

    private static int dataType(DType t) {
        return switch (t) {
            case FLOAT16 -> cudaDataType.CUDA_R_16F;
            case BFLOAT16 -> cudaDataType.CUDA_R_16BF;
            case FLOAT32 -> cudaDataType.CUDA_R_32F;
            default -> throw new IllegalArgumentException("cuBLAS GEMM on " + t);
        };
    }

    @Override
    public void close() {
        if (handle != null) {
            int status = JCublas2.cublasDestroy(handle);
            if (status != cublasStatus.CUBLAS_STATUS_SUCCESS) {
                LOG.warn("cublasDestroy failed with {}", cublasStatus.stringFor(status));
            }
        }
    }
}
