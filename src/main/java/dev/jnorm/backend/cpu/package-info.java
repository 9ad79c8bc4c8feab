/**
 * The CPU backend: the float64 reference every kernel is tested against (two-pass statistics in
 * float64, whatever the storage dtype), and a CPU training stack.
 */
package dev.jnorm.backend.cpu;
