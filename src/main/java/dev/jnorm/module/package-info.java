/**
 * What layers are made of: {@link dev.jnorm.module.Module} (parameters and buffers on one backend,
 * freed on close), {@link dev.jnorm.module.Parameter} (a value and its accumulated gradient) and
 * {@link dev.jnorm.module.Layer} (forward and backward).
 */
package dev.jnorm.module;
