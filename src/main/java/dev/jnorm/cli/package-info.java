/**
 * The {@code jnorm} command line ({@code run}, {@code bench}, {@code study}): the application, not
 * the library; it needs the optional dependencies (picocli, Jackson, progressbar, XChart).
 */
package dev.jnorm.cli;
