/**
 * A small training stack around the norms, enough to train a CNN on either backend: convolution,
 * linear, pooling, ReLU, softmax cross-entropy, SGD and seeded initialization.
 */
package dev.jnorm.nn;
