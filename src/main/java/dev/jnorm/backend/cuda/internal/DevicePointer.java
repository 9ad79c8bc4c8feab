package dev.jnorm.backend.cuda.internal;

/** An address in a {@link GpuDevice}'s memory. */
public interface DevicePointer {

    /** This address plus {@code bytes}. */
    DevicePointer plus(long bytes);
}
