package dev.jnorm.backend.cuda.internal;

import java.util.Map;

/**
 * What the streaming kernels of cuda-kernels/ keep in flight and move, by construction: read off
 * their code (docs/performance.md's kernel table shows them with the registers ptxas assigned), for
 * the launch plans' {@link LaunchModel} and the benchmark's predictions. Internal: not part of the
 * API.
 */
public final class KernelStreams {
    /**
     * A streaming kernel: the bytes a thread has in flight by construction (loads issued before the
     * first is used), the width of its accesses, and the DRAM bytes it moves per value of the tensor
     * it streams (as the emulator's byte table measures its path: 4 reading x, 8 reading x and
     * writing y, 12 reading x and dy and writing dx...).
     */
    public record Stream(int bytesInFlight, int accessBytes, int bytesPerValue, String how) {
    }

    private static final Map<String, Stream> STREAMING = Map.ofEntries(
            Map.entry("nc_apply", new Stream(16, 4, 8, "4 values (GRID_STRIDE_BATCH)")),
            Map.entry("nc_apply_vec", new Stream(64, 16, 8, "4 float4 (GRID_STRIDE_BATCH)")),
            Map.entry("nc_apply_backward", new Stream(32, 4, 12, "4 values of dy and of x")),
            Map.entry("nc_apply_backward_vec", new Stream(128, 16, 12, "4 float4 of dy and of x")),
            Map.entry("rows_forward_team", new Stream(16, 4, 8, "4 values of its team's row")),
            Map.entry("rows_forward_team_vec", new Stream(32, 16, 8, "2 float4 of its team's row")),
            Map.entry("rows_forward_block", new Stream(32, 4, 8, "8 values, then one Chan merge")),
            Map.entry("rows_forward_block_vec", new Stream(32, 16, 8, "2 float4, then one Chan merge")),
            Map.entry("rows_apply", new Stream(16, 4, 8, "4 values (GRID_STRIDE_BATCH)")),
            Map.entry("rows_apply_vec", new Stream(64, 16, 8, "4 float4 (GRID_STRIDE_BATCH)")),
            Map.entry("rows_backward_fused", new Stream(32, 4, 12, "4 values of x and of dy of its team's row")),
            Map.entry("rows_backward_fused_vec", new Stream(64, 16, 12, "2 float4 of x and of dy of its team's row")),
            Map.entry("rows_backward_fused_cluster", new Stream(32, 4, 12, "4 values of x and of dy of its team's row")),
            Map.entry("rows_backward_fused_cluster_vec",
                    new Stream(64, 16, 12, "2 float4 of x and of dy of its team's row")),
            Map.entry("rows_backward_block", new Stream(8, 4, 12, "x and dy, one value each per step")),
            Map.entry("rows_backward_block_vec", new Stream(32, 16, 12, "a float4 of x and of dy per step")),
            Map.entry("rows_param_grads_partial", new Stream(64, 4, 8, "x and dy of 8 rows, then their sums")),
            Map.entry("rows_param_grads_partial_vec", new Stream(128, 16, 8, "a float4 of x and of dy of 4 rows")),
            Map.entry("group_backward_fused", new Stream(64, 4, 12, "8 values of x and of dy")),
            Map.entry("group_backward_fused_vec", new Stream(32, 16, 12, "a float4 of x and of dy per step")),
            Map.entry("segments_welford_partial", new Stream(32, 4, 4, "8 values, then one Chan merge")),
            Map.entry("segments_sums_partial", new Stream(64, 4, 8, "8 values of x and of dy, then their sums")),
            Map.entry("columns_welford_partial", new Stream(32, 4, 4, "8 values, then one Chan merge")),
            Map.entry("columns_sums_partial", new Stream(64, 4, 8, "8 values of x and of dy, then their sums")),
            Map.entry("columns_welford_partial_vec", new Stream(64, 16, 4, "a float4 of 4 rows, then 4 Chan merges")),
            Map.entry("columns_sums_partial_vec", new Stream(128, 16, 8, "a float4 of x and of dy of 4 rows")),
            Map.entry("weight_norm_forward", new Stream(32, 4, 8, "8 values of its slice")),
            Map.entry("weight_norm_backward", new Stream(32, 4, 16, "8 values of dw (v as used)")));


    private KernelStreams() {
    }

    /** The streaming kernel's figures, or null for the kernels that only touch statistics or parameters. */
    public static Stream of(String kernel) {
        return STREAMING.get(kernel);
    }
}
