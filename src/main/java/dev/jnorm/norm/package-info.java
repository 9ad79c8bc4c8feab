/**
 * The norms: each a layer with a builder ({@link dev.jnorm.norm.BatchNorm},
 * {@link dev.jnorm.norm.LayerNorm}, {@link dev.jnorm.norm.InstanceNorm},
 * {@link dev.jnorm.norm.GroupNorm}, {@link dev.jnorm.norm.RMSNorm}, {@link dev.jnorm.norm.WeightNorm},
 * {@link dev.jnorm.norm.BatchInstanceNorm}, {@link dev.jnorm.norm.SwitchableNorm}) and a functional
 * twin in {@link dev.jnorm.norm.Norms}, with PyTorch's semantics, defaults and error messages.
 * {@link dev.jnorm.norm.NormRegistry} lists them by name, for tools that choose a norm at run time.
 */
package dev.jnorm.norm;
