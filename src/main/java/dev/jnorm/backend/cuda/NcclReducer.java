package dev.jnorm.backend.cuda;

import dev.jnorm.backend.cuda.internal.JCudaDevice;
import dev.jnorm.norm.StatsReducer;
import dev.jnorm.tensor.DType;
import dev.jnorm.tensor.Shape;
import dev.jnorm.tensor.Tensor;

/**
 * A {@link StatsReducer} through NCCL, the library multi-GPU and multi-host training runs on, reached
 * through JavaCPP's CUDA presets ({@code org.bytedeco:cuda}; JCuda has no NCCL binding). One rank
 * per process (or per GPU): rank 0 makes a {@link #uniqueId()}, the launcher passes its 128 bytes to
 * every rank (a file, an environment variable, the job's own channel), and each rank
 * {@link #join}s with it, its {@link CudaBackend} on its own GPU. The gather runs on the device, no
 * copy through the host; ranks combine what they gathered in rank order, so results are bitwise
 * the same on every rank. A runnable two-process example: {@code docs/sync-batch-norm.md}.
 *
 * <p>NCCL and its bindings are optional: nothing loads them until {@link #uniqueId()} or
 * {@link #join} is called, and where they are missing those say what to add, with a
 * {@link CudaUnavailableException}.
 */
public final class NcclReducer implements StatsReducer {
    /** The size of an NCCL unique id, in bytes. */
    public static final int UNIQUE_ID_BYTES = 128;

    private final CudaBackend backend;
    private final int ranks;
    private final int rank;
    private final Object comm; // an org.bytedeco.cuda.nccl.ncclComm, as Object so that this class loads without NCCL
    private boolean closed;

    private NcclReducer(CudaBackend backend, int ranks, int rank, Object comm) {
        this.backend = backend;
        this.ranks = ranks;
        this.rank = rank;
        this.comm = comm;
    }

    /**
     * A new NCCL unique id, made once (by rank 0) and passed to every rank.
     *
     * @return its bytes ({@value #UNIQUE_ID_BYTES})
     * @throws CudaUnavailableException when NCCL or its bindings cannot be loaded
     */
    public static byte[] uniqueId() {
        requireNccl();
        return Calls.uniqueId();
    }

    /**
     * Joins the group of {@code ranks} ranks that share {@code uniqueId}, as {@code rank}, on
     * {@code backend}'s GPU; blocks until every rank has joined.
     *
     * @param backend this rank's backend, on a CUDA device of its own
     * @param uniqueId the bytes of rank 0's {@link #uniqueId()}
     * @param ranks the group's size
     * @param rank this rank, from 0 to ranks − 1
     * @return this rank's end of the group, to close when done
     * @throws CudaUnavailableException when NCCL or its bindings cannot be loaded
     */
    public static NcclReducer join(CudaBackend backend, byte[] uniqueId, int ranks, int rank) {
        if (ranks < 1 || rank < 0 || rank >= ranks) {
            throw new IllegalArgumentException("rank must be between 0 and ranks − 1 = " + (ranks - 1) + ", got "
                    + rank);
        }
        if (uniqueId == null || uniqueId.length != UNIQUE_ID_BYTES) {
            throw new IllegalArgumentException("an NCCL unique id has " + UNIQUE_ID_BYTES + " bytes");
        }
        if (!backend.onCudaDevice()) {
            throw new CudaUnavailableException("NCCL needs a CUDA device; this backend runs on " + backend.description());
        }
        requireNccl();
        Object[] comm = new Object[1];
        backend.collective("ncclCommInitRank", Shape.of(ranks), () -> comm[0] = Calls.join(uniqueId, ranks, rank));
        return new NcclReducer(backend, ranks, rank, comm[0]);
    }

    /** Loads NCCL's bindings and library, or says what is missing (the first failure's cause, every time). */
    private static void requireNccl() {
        if (Availability.PROBLEM != null) {
            throw new CudaUnavailableException("NCCL is not available (" + Availability.PROBLEM + "): add "
                    + "org.bytedeco:cuda:12.6-9.5-1.5.11 with its natives for this platform, and NCCL's libnccl.so.2 "
                    + "where the natives do not bring it (docs/sync-batch-norm.md)");
        }
    }

    /** Whether NCCL loaded, tried once: a class whose initializer failed would only say so the first time. */
    private static final class Availability {
        static final String PROBLEM = probe();

        private static String probe() {
            try {
                Calls.version();
                return null;
            } catch (LinkageError | RuntimeException e) {
                return e.toString();
            }
        }
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
        if (closed) {
            throw new IllegalStateException("this NCCL reducer is closed");
        }
        if (local.backend() != backend || local.dtype() != DType.FLOAT32) {
            throw new IllegalArgumentException("an NCCL all-gather takes float32 tensors of its own backend, got "
                    + local.dtype() + " on " + local.backend().name());
        }
        Tensor out = backend.empty(gathered(local.shape()), DType.FLOAT32);
        try {
            long send = JCudaDevice.address(backend.pointer(local));
            long receive = JCudaDevice.address(backend.pointer(out));
            backend.collective("ncclAllGather", local.shape(), () -> Calls.allGather(send, receive, local.numel(), comm));
            return out;
        } catch (RuntimeException e) {
            out.close();
            throw e;
        }
    }

    @Override
    public void close() {
        if (!closed) {
            closed = true;
            backend.collective("ncclCommDestroy", Shape.of(ranks), () -> Calls.destroy(comm));
        }
    }

    /** Every call into JavaCPP's NCCL bindings: the one class that names them, loaded on first use. */
    private static final class Calls {
        private static final int NCCL_SUCCESS = 0;

        static int version() {
            int[] v = new int[1];
            check(org.bytedeco.cuda.global.nccl.ncclGetVersion(v), "ncclGetVersion");
            return v[0];
        }

        static byte[] uniqueId() {
            org.bytedeco.cuda.nccl.ncclUniqueId id = new org.bytedeco.cuda.nccl.ncclUniqueId();
            check(org.bytedeco.cuda.global.nccl.ncclGetUniqueId(id), "ncclGetUniqueId");
            byte[] bytes = new byte[UNIQUE_ID_BYTES];
            for (int i = 0; i < bytes.length; i++) {
                bytes[i] = id.internal(i);
            }
            return bytes;
        }

        static Object join(byte[] uniqueId, int ranks, int rank) {
            org.bytedeco.cuda.nccl.ncclUniqueId id = new org.bytedeco.cuda.nccl.ncclUniqueId();
            for (int i = 0; i < uniqueId.length; i++) {
                id.internal(i, uniqueId[i]);
            }
            org.bytedeco.cuda.nccl.ncclComm comm = new org.bytedeco.cuda.nccl.ncclComm();
            check(org.bytedeco.cuda.global.nccl.ncclCommInitRank(comm, ranks, id, rank), "ncclCommInitRank");
            return comm;
        }

        /** Gathers {@code count} floats of each rank into {@code receive}, in rank order, and waits for it. */
        static void allGather(long send, long receive, long count, Object comm) {
            check(org.bytedeco.cuda.global.nccl.ncclAllGather(new DeviceAddress(send), new DeviceAddress(receive),
                    count, org.bytedeco.cuda.global.nccl.ncclFloat32, (org.bytedeco.cuda.nccl.ncclComm) comm, null),
                    "ncclAllGather");
            // on the legacy default stream, which this backend's blocking stream waits for; wait here too,
            // so that a failed rank shows now
            int status = org.bytedeco.cuda.global.cudart.cudaStreamSynchronize(null);
            if (status != 0) {
                throw new CudaException("cudaStreamSynchronize after ncclAllGather failed with error " + status,
                        "cudaError " + status, true);
            }
        }

        static void destroy(Object comm) {
            check(org.bytedeco.cuda.global.nccl.ncclCommDestroy((org.bytedeco.cuda.nccl.ncclComm) comm),
                    "ncclCommDestroy");
        }

        private static void check(int result, String call) {
            if (result != NCCL_SUCCESS) {
                String error = org.bytedeco.cuda.global.nccl.ncclGetErrorString(result).getString();
                throw new CudaException(call + " failed: " + error, error, false);
            }
        }
    }

    /** A device address as JavaCPP's pointer type, which NCCL's bindings take. */
    private static final class DeviceAddress extends org.bytedeco.javacpp.Pointer {
        DeviceAddress(long address) {
            this.address = address;
        }
    }
}
