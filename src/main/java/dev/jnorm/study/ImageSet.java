package dev.jnorm.study;

import dev.jnorm.io.IdxReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Grayscale images with class labels, as float pixels normalized by Fashion-MNIST's mean and
 * standard deviation: Fashion-MNIST from its IDX files, or a generated stand-in.
 */
public record ImageSet(float[] pixels, int[] labels, int height, int width, int classes) {
    /** Where Debian's dataset-fashion-mnist package puts the files, then where ci/fetch-fashion-mnist.sh does. */
    public static final List<Path> DEFAULT_DIRS =
            List.of(Path.of("/usr/share/datasets/fashion-mnist"), Path.of("data/fashion-mnist"));
    private static final float MEAN = 0.2860f;
    private static final float STD = 0.3530f;

    public int size() {
        return labels.length;
    }

    /** The first {@code count} images (all of them when there are fewer). */
    public ImageSet first(int count) {
        int n = Math.min(count, size());
        int pixelsPer = height * width;
        return new ImageSet(java.util.Arrays.copyOf(pixels, n * pixelsPer), java.util.Arrays.copyOf(labels, n),
                height, width, classes);
    }

    /** The training and test sets of Fashion-MNIST from {@code dir}: train-* and t10k-* IDX files. */
    public static ImageSet[] fashionMnist(Path dir) {
        return new ImageSet[] {load(dir, "train"), load(dir, "t10k")};
    }

    /** The first directory of {@link #DEFAULT_DIRS} that holds Fashion-MNIST, or null. */
    public static Path findFashionMnist() {
        return DEFAULT_DIRS.stream().filter(ImageSet::hasFashionMnist).findFirst().orElse(null);
    }

    /** Whether {@code dir} holds Fashion-MNIST's IDX files (judged by the training images). */
    public static boolean hasFashionMnist(Path dir) {
        return Files.exists(dir.resolve("train-images-idx3-ubyte.gz"));
    }

    private static ImageSet load(Path dir, String prefix) {
        IdxReader.IdxArray images = IdxReader.read(dir.resolve(prefix + "-images-idx3-ubyte.gz"));
        IdxReader.IdxArray labels = IdxReader.read(dir.resolve(prefix + "-labels-idx1-ubyte.gz"));
        if (images.dims().length != 3 || labels.dims().length != 1 || images.count() != labels.count()) {
            throw new IllegalArgumentException(dir + ": " + prefix + " images and labels do not match: "
                    + java.util.Arrays.toString(images.dims()) + " and " + java.util.Arrays.toString(labels.dims()));
        }
        float[] pixels = new float[images.data().length];
        for (int i = 0; i < pixels.length; i++) {
            pixels[i] = ((images.data()[i] & 0xff) / 255f - MEAN) / STD;
        }
        int[] y = new int[labels.count()];
        for (int i = 0; i < y.length; i++) {
            y[i] = labels.data()[i] & 0xff;
            if (y[i] > 9) {
                throw new IllegalArgumentException(dir + ": label " + y[i] + " at " + i + " is not a class 0–9");
            }
        }
        return new ImageSet(pixels, y, images.dims()[1], images.dims()[2], 10);
    }

    /**
     * A generated stand-in with Fashion-MNIST's shape: 28×28 images of 10 classes, each class a
     * bright bar at its own angle, shifted at random, over noise. Learnable, but not trivially:
     * neighbouring angles look alike.
     */
    public static ImageSet synthetic(int count, long seed) {
        int size = 28;
        SplittableRandom random = new SplittableRandom(seed);
        float[] pixels = new float[count * size * size];
        int[] labels = new int[count];
        for (int n = 0; n < count; n++) {
            int label = random.nextInt(10);
            labels[n] = label;
            double angle = Math.PI * label / 10;
            double dx = Math.cos(angle);
            double dy = Math.sin(angle);
            double cx = 13.5 + random.nextDouble(-3, 3);
            double cy = 13.5 + random.nextDouble(-3, 3);
            for (int i = 0; i < size; i++) {
                for (int j = 0; j < size; j++) {
                    double along = (j - cx) * dx + (i - cy) * dy;
                    double across = -(j - cx) * dy + (i - cy) * dx;
                    double bar = Math.abs(across) < 1.5 && Math.abs(along) < 9 ? 1 : 0;
                    double v = bar + 0.35 * random.nextDouble();
                    pixels[(n * size + i) * size + j] = (float) ((v / 1.35 - MEAN) / STD);
                }
            }
        }
        return new ImageSet(pixels, labels, size, size, 10);
    }
}
