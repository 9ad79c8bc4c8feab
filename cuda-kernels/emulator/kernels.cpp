// kernels.cpp: the kernel sources of cuda-kernels/, compiled for the emulator, and their registry;
// also planted.cu, the kernels with planted defects the tests use to show what the emulator catches.
#define JNORM_EMULATOR 1

#include "../channels.cu"
#include "../convert.cu"
#include "../composite.cu"
#include "../nn.cu"
#include "../rows.cu"
#include "../stats.cu"
#include "../weight.cu"
#include "planted.cu"
#include "registry.h"

#define REGISTER(name) emu::add(#name, name);

namespace {
const bool registered = [] {
    REGISTER(segments_welford_partial)
    REGISTER(columns_welford_partial)
    REGISTER(columns_welford_partial_vec)
    REGISTER(welford_merge_partials)
    REGISTER(welford_finalize)
    REGISTER(segments_sums_partial)
    REGISTER(columns_sums_partial)
    REGISTER(columns_sums_partial_vec)
    REGISTER(sums_merge_partials)
    REGISTER(sums_finalize)
    REGISTER(rows_forward_team)
    REGISTER(rows_forward_team_vec)
    REGISTER(rows_forward_block)
    REGISTER(rows_forward_block_vec)
    REGISTER(rows_apply)
    REGISTER(rows_apply_vec)
    REGISTER(rows_backward_fused)
    REGISTER(rows_backward_fused_vec)
    REGISTER(rows_backward_block)
    REGISTER(rows_param_grads_partial)
    REGISTER(nc_apply)
    REGISTER(nc_apply_vec)
    REGISTER(nc_apply_backward)
    REGISTER(nc_apply_backward_vec)
    REGISTER(channel_coefficients)
    REGISTER(channel_backward_coefficients)
    REGISTER(renorm_coefficients)
    REGISTER(widen_f16)
    REGISTER(widen_bf16)
    REGISTER(narrow_f16)
    REGISTER(narrow_bf16)
    REGISTER(rank_welford_merge)
    REGISTER(rank_sums)
    REGISTER(mean_only_bias_grad)
    REGISTER(group_backward_coefficients)
    REGISTER(nc_param_grads)
    REGISTER(instance_running_update)
    REGISTER(instance_partials)
    REGISTER(group_backward_fused)
    REGISTER(group_backward_fused_vec)
    REGISTER(bin_forward_coefficients)
    REGISTER(bin_backward_coefficients)
    REGISTER(sn_merge_stats)
    REGISTER(running_update)
    REGISTER(sn_mix)
    REGISTER(sn_backward_mixed)
    REGISTER(sn_backward_share)
    REGISTER(sn_backward_coefficients)
    REGISTER(sn_logit_grads)
    REGISTER(weight_norm_forward)
    REGISTER(weight_norm_backward)
    REGISTER(im2col)
    REGISTER(col2im)
    REGISTER(add_bias)
    REGISTER(bias_grad)
    REGISTER(relu)
    REGISTER(relu_backward)
    REGISTER(max_pool)
    REGISTER(max_pool_backward)
    REGISTER(average_pool)
    REGISTER(average_pool_backward)
    REGISTER(softmax_cross_entropy)
    REGISTER(sgd_step)
    REGISTER(clamp_values)
    REGISTER(gemm_fallback)
    REGISTER(planted_read_before_start)
    REGISTER(planted_read_past_end)
    REGISTER(planted_write_before_start)
    REGISTER(planted_shared_past_launch_size)
    REGISTER(planted_static_shared_overrun)
    REGISTER(planted_misaligned_vector)
    REGISTER(planted_global_load_of_shared)
    REGISTER(planted_missing_barrier)
    REGISTER(planted_overwrite_before_read)
    REGISTER(planted_write_write_race)
    REGISTER(planted_block_dependency)
    REGISTER(planted_fused_cancellation)
    return true;
}();
}  // namespace
