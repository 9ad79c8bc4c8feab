package dev.jnorm.backend.cuda.internal;

import dev.jnorm.tensor.DType;

/**
 * A device that moves no data and runs nothing: the base of devices that only plan or count
 * (the benchmark's launch recorder, the allocator's tests), which say what they are and hand out
 * addresses, and override what they record. Its GEMM reports no BLAS; its time is 0. Internal: not
 * part of the API.
 */
public abstract class InertDevice implements GpuDevice {
    @Override
    public void makeCurrent() {
    }

    @Override
    public void fill32(DevicePointer pointer, int bits, long count) {
    }

    @Override
    public void upload(DevicePointer destination, float[] source, int offset, int count) {
    }

    @Override
    public void download(DevicePointer source, float[] destination, int offset, int count) {
    }

    @Override
    public void fill16(DevicePointer pointer, short bits, long count) {
    }

    @Override
    public void upload16(DevicePointer destination, short[] source, int offset, int count) {
    }

    @Override
    public void download16(DevicePointer source, short[] destination, int offset, int count) {
    }

    @Override
    public void copy(DevicePointer destination, DevicePointer source, long bytes) {
    }

    @Override
    public void launch(Kernel kernel, long grid, int block, int sharedBytes, Object... args) {
    }

    @Override
    public boolean gemm(boolean transposeA, boolean transposeB, int m, int n, int k, float alpha, DevicePointer a,
                        int lda, DevicePointer b, int ldb, float beta, DevicePointer c, DType inputs, DType output) {
        return false;
    }

    @Override
    public void synchronize() {
    }

    @Override
    public double timeMillis(Runnable work) {
        work.run();
        return 0;
    }

    @Override
    public void close() {
    }
}
