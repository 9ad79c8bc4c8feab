// rows_sm90.cu: the rows family's kernels for compute capability 9.0 (compiled for compute_90,
// loaded only on such devices): LayerNorm's/RMSNorm's fused backward in thread-block clusters of
// CLUSTER_BLOCKS, whose blocks add their column sums through distributed shared memory so that a
// cluster, not each block, writes partials for sums_finalize (rows.cuh rows_backward_fused_impl).
// Same arguments as rows.cu's rows_backward_fused; the grid is a whole number of clusters.
#include "rows.cuh"

#define ROWS_BACKWARD_FUSED_CLUSTER_ENTRY(name, VEC, STORAGE)                                                  \
    BIG_CLUSTER_SHARED_KERNEL name(In<STORAGE> x, In<STORAGE> dy, In<float> mean, In<float> rstd, In<float> w, \
                                   Out<STORAGE> dx, i64 rows, int L, int centered, Out<float2> partials) {     \
        rows_backward_fused_impl<VEC, STORAGE, true>(x, dy, mean, rstd, w, dx, rows, L, centered, partials);   \
    }

ROWS_BACKWARD_FUSED_CLUSTER_ENTRY(rows_backward_fused_cluster, false, float)
ROWS_BACKWARD_FUSED_CLUSTER_ENTRY(rows_backward_fused_cluster_f16, false, Half)
ROWS_BACKWARD_FUSED_CLUSTER_ENTRY(rows_backward_fused_cluster_bf16, false, BFloat16)
ROWS_BACKWARD_FUSED_CLUSTER_ENTRY(rows_backward_fused_cluster_vec, true, float)
ROWS_BACKWARD_FUSED_CLUSTER_ENTRY(rows_backward_fused_cluster_vec_f16, true, Half)
ROWS_BACKWARD_FUSED_CLUSTER_ENTRY(rows_backward_fused_cluster_vec_bf16, true, BFloat16)
