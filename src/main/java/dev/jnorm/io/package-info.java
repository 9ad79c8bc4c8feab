/**
 * Files: NumPy {@code .npy} arrays (read and written byte for byte as NumPy does) and IDX image
 * sets (MNIST's format).
 */
package dev.jnorm.io;
