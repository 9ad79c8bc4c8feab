/**
 * Not API: the CPU backend's host tensors and the building blocks its norm passes use. May change
 * in any release.
 */
package dev.jnorm.backend.cpu.internal;
