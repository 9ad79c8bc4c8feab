// kernels.cpp: the kernel sources of cuda-kernels/, compiled for the emulator, and their registry.
#define JNORM_EMULATOR 1

#include "../channels.cu"
#include "../composite.cu"
#include "../nn.cu"
#include "../rows.cu"
#include "../stats.cu"
#include "../weight.cu"
#include "registry.h"

#define KERNEL(name) emu::add(#name, name);

namespace {
const bool registered = [] {
    KERNEL(segments_welford_partial)
    KERNEL(columns_welford_partial)
    KERNEL(welford_finalize)
    KERNEL(segments_sums_partial)
    KERNEL(columns_sums_partial)
    KERNEL(sums_finalize)
    KERNEL(rows_forward_warp)
    KERNEL(rows_forward_warp_vec)
    KERNEL(rows_forward_block)
    KERNEL(rows_forward_block_vec)
    KERNEL(rows_apply)
    KERNEL(rows_backward_warp)
    KERNEL(rows_backward_block)
    KERNEL(rows_param_grads_partial)
    KERNEL(nc_apply)
    KERNEL(nc_apply_vec)
    KERNEL(nc_apply_backward)
    KERNEL(nc_apply_backward_vec)
    KERNEL(channel_coefficients)
    KERNEL(channel_backward_coefficients)
    KERNEL(group_backward_coefficients)
    KERNEL(nc_param_grads)
    KERNEL(instance_running_update)
    KERNEL(bin_forward_coefficients)
    KERNEL(bin_backward_coefficients)
    KERNEL(sn_merge_stats)
    KERNEL(running_update)
    KERNEL(sn_mix)
    KERNEL(sn_backward_mixed)
    KERNEL(sn_backward_share)
    KERNEL(sn_backward_coefficients)
    KERNEL(sn_logit_grads)
    KERNEL(weight_norm_forward)
    KERNEL(weight_norm_backward)
    KERNEL(im2col)
    KERNEL(col2im)
    KERNEL(add_bias)
    KERNEL(bias_grad)
    KERNEL(relu)
    KERNEL(relu_backward)
    KERNEL(max_pool)
    KERNEL(max_pool_backward)
    KERNEL(average_pool)
    KERNEL(average_pool_backward)
    KERNEL(softmax_cross_entropy)
    KERNEL(sgd_step)
    KERNEL(clamp_values)
    KERNEL(gemm_fallback)
    return true;
}();
}  // namespace
