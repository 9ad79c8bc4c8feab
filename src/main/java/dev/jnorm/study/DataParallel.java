package dev.jnorm.study;

import dev.jnorm.backend.Backend;
import dev.jnorm.module.Parameter;
import dev.jnorm.nn.Sequential;
import dev.jnorm.nn.Sgd;
import dev.jnorm.nn.SoftmaxCrossEntropy;
import dev.jnorm.norm.BatchInstanceNorm;
import dev.jnorm.norm.InProcessReducer;
import dev.jnorm.norm.StatsReducer;
import dev.jnorm.tensor.DType;
import dev.jnorm.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Data-parallel training on K simulated devices, each a thread with its own replica of the network
 * (the same initial weights) and its own 1/K of every batch, as distributed training runs: each
 * replica's norm layers see only their local examples (BatchNorm's statistics are per device),
 * except SyncBatchNorm's, whose ranks meet in one {@link InProcessReducer} group per layer; after
 * each backward the replicas' gradients are averaged (the all-reduce of data parallelism) and every
 * replica takes the same SGD step, so the replicas stay identical but for per-device running
 * statistics. Rank 0's replica is the one evaluated, as a checkpoint of rank 0 would be. With K = 1
 * it is ordinary training.
 */
final class DataParallel implements AutoCloseable {
    private final int ranks;
    private final List<Sequential> replicas = new ArrayList<>();
    private final List<Sgd> optimizers = new ArrayList<>();
    private final List<SoftmaxCrossEntropy> losses = new ArrayList<>();
    private final List<List<StatsReducer>> groups = new ArrayList<>();
    private final ExecutorService pool;
    private final Backend backend;
    private final DType dtype;

    DataParallel(String norm, Backend backend, DType dtype, long seed, int ranks, double learningRate,
                 double momentum, double weightDecay) {
        this(norm, backend, dtype, 1, seed, ranks, learningRate, momentum, weightDecay);
    }

    /** As above, with {@link SmallCnn}'s {@code depth} convolutions a stage. */
    DataParallel(String norm, Backend backend, DType dtype, int depth, long seed, int ranks, double learningRate,
                 double momentum, double weightDecay) {
        this.ranks = ranks;
        this.backend = backend;
        this.dtype = dtype;
        for (int layer = 0; layer < SmallCnn.normLayers(depth); layer++) {
            groups.add(InProcessReducer.group(ranks));
        }
        for (int r = 0; r < ranks; r++) {
            int rank = r;
            Sequential net = SmallCnn.build(norm, backend, dtype, depth, seed, layer -> groups.get(layer).get(rank));
            replicas.add(net);
            optimizers.add(new Sgd(net.parameters(), learningRate, momentum, weightDecay));
            losses.add(new SoftmaxCrossEntropy());
        }
        this.pool = ranks > 1 ? Executors.newFixedThreadPool(ranks) : null;
    }

    /** Sets every replica's learning rate for the steps that follow. */
    void setLearningRate(double learningRate) {
        optimizers.forEach(o -> o.setLearningRate(learningRate));
    }

    /** The rate the replicas' next step takes. */
    double learningRate() {
        return optimizers.get(0).learningRate();
    }

    /** Rank 0's replica. */
    Sequential first() {
        return replicas.get(0);
    }

    /**
     * One step on images {@code order[from .. from + batch)}, rank r taking the r-th 1/K of them: each
     * replica's forward and backward, the gradients averaged, an SGD step on every replica, ρ clamped
     * to [0, 1]. Returns the loss over the batch (the ranks' mean).
     */
    double step(ImageSet data, int[] order, int from, int batch) {
        int local = batch / ranks;
        double[] loss = new double[ranks];
        List<Future<?>> running = new ArrayList<>();
        for (int r = 0; r < ranks; r++) {
            int rank = r;
            Runnable work = () -> loss[rank] = forwardBackward(rank, data, order, from + rank * local, local);
            if (pool == null) {
                work.run();
            } else {
                running.add(pool.submit(work));
            }
        }
        try {
            for (Future<?> f : running) {
                f.get();
            }
        } catch (ExecutionException e) {
            close(); // the other ranks would wait for a failed one
            throw e.getCause() instanceof RuntimeException re ? re : new IllegalStateException(e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while the ranks trained", e);
        }
        averageGradients();
        for (int r = 0; r < ranks; r++) {
            optimizers.get(r).step();
            optimizers.get(r).zeroGrad();
            replicas.get(r).layers().stream().filter(BatchInstanceNorm.class::isInstance)
                    .map(BatchInstanceNorm.class::cast).forEach(BatchInstanceNorm::clampRho);
        }
        double mean = 0;
        for (double l : loss) {
            mean += l / ranks;
        }
        return mean;
    }

    private double forwardBackward(int rank, ImageSet data, int[] order, int from, int count) {
        Sequential net = replicas.get(rank);
        SoftmaxCrossEntropy loss = losses.get(rank);
        try (Tensor x = SmallBatchStudy.images(backend, data, order, from, count, dtype);
             Tensor y = SmallBatchStudy.labels(backend, data, order, from, count);
             Tensor logits = net.forward(x)) {
            double l = loss.forward(logits, y);
            try (Tensor g = loss.backward(); Tensor dx = net.backward(g)) {
                return l;
            }
        }
    }

    /** Every replica's gradient of each parameter set to their mean over the replicas, added in rank order. */
    private void averageGradients() {
        if (ranks == 1) {
            return;
        }
        List<List<Parameter>> params = replicas.stream().map(Sequential::parameters).toList();
        for (int p = 0; p < params.get(0).size(); p++) {
            double[] mean = new double[(int) params.get(0).get(p).grad().numel()];
            for (List<Parameter> replica : params) {
                double[] g = replica.get(p).grad().toDoubleArray();
                for (int i = 0; i < mean.length; i++) {
                    mean[i] += g[i] / ranks;
                }
            }
            for (List<Parameter> replica : params) {
                replica.get(p).grad().copyFrom(mean);
            }
        }
    }

    @Override
    public void close() {
        if (pool != null) {
            pool.shutdownNow();
        }
        groups.forEach(g -> g.forEach(StatsReducer::close));
        optimizers.forEach(Sgd::close);
        losses.forEach(SoftmaxCrossEntropy::close);
        replicas.forEach(Sequential::close);
    }
}
