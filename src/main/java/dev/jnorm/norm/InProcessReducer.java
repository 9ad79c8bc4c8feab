package dev.jnorm.norm;

import dev.jnorm.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.BiFunction;

/**
 * A group of ranks that are threads of one JVM, on any backend (each rank's tensors may even be on
 * a backend of its own): each {@link StatsReducer#allGather} copies the ranks' parts through the
 * host in rank order. Deterministic. What the tests, {@code jnorm run --ranks} and the study use, and
 * what one-host multi-GPU users can use, a thread per GPU.
 *
 * <pre>{@code
 * List<StatsReducer> ranks = InProcessReducer.group(4);   // one end per thread
 * // thread k: SyncBatchNorm bn = SyncBatchNorm.builder(64, ranks.get(k)).build(backend);
 * // or, threads and all: InProcessReducer.run(4, (k, end) -> ...);
 * }</pre>
 */
public final class InProcessReducer {
    private final int ranks;
    private final double[][] parts;
    private final Object lock = new Object();
    private int arrived;
    private long generation;
    private boolean closed;

    private InProcessReducer(int ranks) {
        this.ranks = ranks;
        this.parts = new double[ranks][];
    }

    /**
     * A group of {@code ranks} ends, one for each rank's thread.
     *
     * @param ranks the group's size, at least 1
     * @return its ends, by rank
     */
    public static List<StatsReducer> group(int ranks) {
        if (ranks < 1) {
            throw Checks.fail("ranks must be positive, got " + ranks);
        }
        InProcessReducer group = new InProcessReducer(ranks);
        List<StatsReducer> ends = new ArrayList<>();
        for (int k = 0; k < ranks; k++) {
            ends.add(group.new End(k));
        }
        return List.copyOf(ends);
    }

    /**
     * Runs {@code work} on each rank of a new group of {@code ranks}, a thread each, and closes the
     * group after. A rank that fails leaves the group, so that the others fail instead of waiting
     * for it; the error thrown is the first rank's own (a rank's failure for want of another is an
     * {@link IllegalStateException}, passed over for a later rank's).
     *
     * @param ranks the group's size, at least 1
     * @param work rank k's work, given k and its end of the group
     * @param <T> a rank's result
     * @return the ranks' results, in rank order
     */
    public static <T> List<T> run(int ranks, BiFunction<Integer, StatsReducer, T> work) {
        List<StatsReducer> group = group(ranks);
        ExecutorService pool = Executors.newFixedThreadPool(ranks);
        try {
            List<Future<T>> futures = new ArrayList<>();
            for (int k = 0; k < ranks; k++) {
                int rank = k;
                StatsReducer end = group.get(k);
                futures.add(pool.submit(() -> {
                    try {
                        return work.apply(rank, end);
                    } catch (RuntimeException e) {
                        end.close(); // the others would wait for this rank forever
                        throw e;
                    }
                }));
            }
            List<T> results = new ArrayList<>();
            RuntimeException failure = null;
            for (Future<T> f : futures) {
                try {
                    results.add(f.get());
                } catch (ExecutionException e) {
                    if (failure == null || failure instanceof IllegalStateException) {
                        failure = e.getCause() instanceof RuntimeException re ? re
                                : new IllegalStateException(e.getCause());
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IllegalStateException("interrupted while the ranks ran", e);
                }
            }
            if (failure != null) {
                throw failure;
            }
            return results;
        } finally {
            pool.shutdownNow();
            group.forEach(StatsReducer::close);
        }
    }

    /**
     * Waits until every rank has arrived (a barrier), or fails once the group is closed: a rank that
     * left will never arrive.
     */
    private void await() {
        synchronized (lock) {
            if (closed) {
                throw new IllegalStateException("the group is closed: a rank left it");
            }
            long mine = generation;
            if (++arrived == ranks) {
                arrived = 0;
                generation++;
                lock.notifyAll();
                return;
            }
            while (mine == generation && !closed) {
                try {
                    lock.wait();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    closed = true; // the others would wait for this rank forever
                    lock.notifyAll();
                    throw new IllegalStateException("interrupted while waiting for the other ranks", e);
                }
            }
            if (mine == generation) {
                throw new IllegalStateException("a rank left the group before all ranks met");
            }
        }
    }

    private void close() {
        synchronized (lock) {
            closed = true;
            lock.notifyAll();
        }
    }

    private final class End implements StatsReducer {
        private final int rank;

        End(int rank) {
            this.rank = rank;
        }

        @Override
        public int rank() {
            return rank;
        }

        @Override
        public int ranks() {
            return ranks;
        }

        @Override
        public Tensor allGather(Tensor local) {
            Checks.input(local, "local");
            Tensor out = local.backend().empty(gathered(local.shape()), local.dtype());
            try {
                if (ranks == 1) { // no one to meet: a copy on the device, no trip through the host
                    local.backend().copy(local, out);
                } else {
                    out.copyFrom(exchange(local.toDoubleArray()));
                }
                return out;
            } catch (RuntimeException e) {
                out.close();
                throw e;
            }
        }

        /** This rank's part in, every rank's out, in rank order. */
        private double[] exchange(double[] mine) {
            parts[rank] = mine;
            await(); // every part is in
            int n = parts[rank].length;
            double[] all = new double[ranks * n];
            for (int k = 0; k < ranks; k++) {
                if (parts[k].length != n) {
                    await(); // let the others read before failing, so that all fail alike
                    throw new IllegalArgumentException("rank " + k + " gathered " + parts[k].length
                            + " values, rank " + rank + " " + n);
                }
                System.arraycopy(parts[k], 0, all, k * n, n);
            }
            await(); // every rank has read: the parts may be overwritten by the next gather
            return all;
        }

        @Override
        public void close() {
            InProcessReducer.this.close();
        }
    }
}
