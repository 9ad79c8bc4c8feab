/**
 * Not API: devices (JCuda, the kernel emulator), device memory, the PTX modules, the typed kernel
 * launches generated from the kernels' declarations, and the building blocks the norms' launch
 * plans use. May change in any release.
 */
package dev.jnorm.backend.cuda.internal;
