package dev.jnorm.norm;

import dev.jnorm.backend.NcsLayout;
import dev.jnorm.backend.NormOp;
import dev.jnorm.backend.RowsLayout;
import dev.jnorm.backend.RunningStats;
import dev.jnorm.backend.cpu.internal.CpuKit;
import dev.jnorm.backend.cpu.internal.Float32Loops;
import dev.jnorm.backend.cpu.internal.Moments;
import dev.jnorm.backend.cpu.internal.RowParameters;
import dev.jnorm.backend.cuda.internal.CudaKit.Coefficients;
import dev.jnorm.backend.cuda.internal.CudaKit.Scratch;
import dev.jnorm.backend.cuda.internal.CudaKit.Segments;
import dev.jnorm.backend.cuda.internal.CudaKit.Statistics;
import dev.jnorm.backend.cuda.internal.CudaKit.Sums;
import dev.jnorm.backend.cuda.internal.CudaKit;
import dev.jnorm.backend.cuda.internal.DevicePointer;
import dev.jnorm.backend.cuda.internal.KernelStreams;
import dev.jnorm.backend.cuda.internal.Kernels;
import dev.jnorm.backend.cuda.internal.LaunchModel;
import dev.jnorm.tensor.DType;
import dev.jnorm.tensor.Shape;
import dev.jnorm.tensor.Tensor;

/**
 * The rows family: LayerNorm, RMSNorm, InstanceNorm and GroupNorm, one statistic per contiguous row
 * of a {@link RowsLayout}, forward and backward, as the float64 reference and as the CUDA launch
 * plan (rows.cu, stats.cu, channels.cu).
 */
final class RowsOp {
    /**
     * The teams of rows.cu that hold a row in registers: {@code size} threads per row (the least power
     * of two ≥ 32 holding it at {@code perThread} values a thread: 8 with float4, 4 without),
     * {@code teams} rows per block of BIG_BLOCK threads.
     */
    private record Team(long size, long teams) {
        /** The team for rows of {@code length}, or null when they are too long for a block's registers. */
        static Team of(long length, long perThread) {
            if (length > perThread * CudaKit.BIG_BLOCK) {
                return null;
            }
            long size = 32;
            while (size * perThread < length) {
                size *= 2;
            }
            return new Team(size, CudaKit.BIG_BLOCK / size);
        }
    }

    private RowsOp() {
    }

    /**
     * {@code y = (x − mean)·rstd·weight + bias} per row (RMS rows: {@code y = x·rstd·weight} with
     * {@code rstd = 1/sqrt(mean(x²) + eps)}), saving one mean (null for RMS) and rstd per row. For
     * InstanceNorm rows, {@code running} (else null) is updated with the per-(n, c) statistics
     * averaged over n.
     */
    record Forward(RowsLayout layout, double eps, Tensor x, Tensor weight, Tensor bias, Tensor y, Tensor saveMean,
                   Tensor saveRstd, RunningStats running, double factor) implements SixteenBitOp {
        @Override
        public String name() {
            return "rows forward";
        }

        @Override
        public Shape shape() {
            return x.shape();
        }

        @Override
        public void reference(CpuKit cpu) {
            double[] xs = cpu.read(x);
            RowParameters w = RowParameters.of(layout, cpu.read(weight), 1);
            RowParameters b = RowParameters.of(layout, cpu.read(bias), 0);
            int rows = (int) layout.rows();
            int length = (int) layout.length();
            double[] ys = new double[xs.length];
            double[] mean = new double[rows];
            double[] var = new double[rows];
            double[] rstd = new double[rows];
            CpuKit.forEach(rows, xs.length, r -> {
                int start = r * length;
                mean[r] = layout.centered() ? Moments.mean(xs, start, length, 1, 0) : 0;
                var[r] = Moments.meanSquare(xs, start, length, 1, 0, mean[r]);
                rstd[r] = Moments.rstd(var[r], eps);
                double[] wr = w.row(r);
                double[] br = b.row(r);
                for (int j = 0; j < length; j++) {
                    ys[start + j] = (xs[start + j] - mean[r]) * rstd[r] * wr[j] + br[j];
                }
            });
            cpu.write(y, ys);
            save(cpu, mean, var, rstd);
        }

        @Override
        public boolean float32(CpuKit cpu) {
            if (!Float32Loops.float32(x, y) || x.numel() == 0) {
                return false;
            }
            int rows = (int) layout.rows();
            double[] mean = new double[rows];
            double[] var = new double[rows];
            double[] rstd = new double[rows];
            Float32Loops.rowsForward(layout, eps, Float32Loops.f32(cpu, x), Float32Loops.f32(cpu, weight),
                    Float32Loops.f32(cpu, bias), Float32Loops.f32(cpu, y), mean, var, rstd);
            save(cpu, mean, var, rstd);
            return true;
        }

        /** Saves each row's statistics; InstanceNorm's running statistics take them averaged over n, as PyTorch's. */
        private void save(CpuKit cpu, double[] mean, double[] var, double[] rstd) {
            if (saveMean != null) {
                cpu.write(saveMean, mean);
            }
            cpu.write(saveRstd, rstd);
            if (running != null) {
                int channels = (int) layout.channels();
                int n = (int) layout.rows() / channels;
                double[] batchMean = new double[channels];
                double[] batchVar = new double[channels];
                for (int c = 0; c < channels; c++) {
                    for (int k = 0; k < n; k++) {
                        batchMean[c] += mean[k * channels + c];
                        batchVar[c] += var[k * channels + c];
                    }
                    batchMean[c] /= n;
                    batchVar[c] /= n;
                }
                cpu.updateRunning(running, factor, batchMean, batchVar, layout.length());
            }
        }

        /**
         * A row that fits in a team of threads' registers or a block's shared memory is read once
         * (rows_forward_team, rows_forward_block); a longer one is split across blocks for its
         * statistics, then normalized (stats.cu, rows_apply).
         */
        @Override
        public void launch(CudaKit gpu) {
            try (Scratch s = gpu.scratch()) {
                DevicePointer var = running != null ? s.floats(layout.rows()) : null;
                int perChannel = layout.affine() == RowsLayout.Affine.PER_CHANNEL ? 1 : 0;
                long length = layout.length();
                // 16 bytes at a time (float4, or packs of eight 16-bit values) where a row is a
                // multiple of the width and, per channel, so is a channel's run
                DType storage = gpu.storage(x);
                int width = storage == DType.FLOAT32 ? 4 : 8;
                boolean packs = length % width == 0 && (perChannel == 0 || layout.spatial() % width == 0)
                        && gpu.aligned(x, y);
                Team team = Team.of(length, packs ? 8 : 4);
                boolean block = team == null && 4 * length <= gpu.info().sharedMemoryPerBlock() - 1024
                        && !splitIsFaster(gpu, layout.rows(), length, packs);
                if (team != null || block) {
                    Kernels.RowsForwardArgs launch = team != null
                            ? (packs ? CudaKit.byStorage(storage, Kernels.rowsForwardTeamVec(),
                            Kernels.rowsForwardTeamVecF16(), Kernels.rowsForwardTeamVecBf16())
                            : CudaKit.byStorage(storage, Kernels.rowsForwardTeam(), Kernels.rowsForwardTeamF16(),
                            Kernels.rowsForwardTeamBf16()))
                            : (packs ? CudaKit.byStorage(storage, Kernels.rowsForwardBlockVec(),
                            Kernels.rowsForwardBlockVecF16(), Kernels.rowsForwardBlockVecBf16())
                            : CudaKit.byStorage(storage, Kernels.rowsForwardBlock(), Kernels.rowsForwardBlockF16(),
                            Kernels.rowsForwardBlockBf16()));
                    launch.x(gpu.pointer(x)).y(gpu.pointer(y)).w(gpu.pointer(weight)).b(gpu.pointer(bias))
                            .perChannel(perChannel).C(layout.channels()).S(layout.spatial())
                            .meanOut(gpu.pointer(saveMean)).rstdOut(gpu.pointer(saveRstd)).varOut(var)
                            .rows(layout.rows()).L((int) length).eps((float) eps).centered(layout.centered() ? 1 : 0);
                    if (team != null) {
                        // Two of the 1024-thread blocks an SM holds at 64 registers, twice over, each
                        // team walking rows grid-strided.
                        long blocks = Math.min(CudaKit.ceilDiv(layout.rows(), team.teams()),
                                4L * gpu.info().multiprocessors());
                        launch.launch(gpu.launcher(), blocks, 0);
                    } else {
                        launch.launch(gpu.launcher(), gpu.itemBlocks(layout.rows()), (int) (4 * length));
                    }
                } else {
                    gpu.statistics(s, Segments.rows(x, layout.rows(), length),
                            new Statistics(eps, !layout.centered(), gpu.pointer(saveMean), var, gpu.pointer(saveRstd),
                                    null, 0));
                    (packs ? CudaKit.byStorage(storage, Kernels.rowsApplyVec(), Kernels.rowsApplyVecF16(),
                            Kernels.rowsApplyVecBf16()) : CudaKit.byStorage(storage, Kernels.rowsApply(),
                            Kernels.rowsApplyF16(), Kernels.rowsApplyBf16())).x(gpu.pointer(x)).y(gpu.pointer(y))
                            .w(gpu.pointer(weight)).b(gpu.pointer(bias)).perChannel(perChannel).C(layout.channels())
                            .S(layout.spatial()).mean(gpu.pointer(saveMean)).rstd(gpu.pointer(saveRstd))
                            .rows(layout.rows()).L(length)
                            .launch(gpu.launcher(), gpu.grid(layout.rows() * length / (packs ? width : 1)), 0);
                }
                if (running != null) {
                    long c = layout.channels();
                    Kernels.instanceRunningUpdate().mean(gpu.pointer(saveMean)).var(var).N(layout.rows() / c).C(c)
                            .S(layout.spatial()).factor((float) factor).runningMean(gpu.pointer(running.mean()))
                            .runningVar(gpu.pointer(running.var())).launch(gpu.launcher(), gpu.grid(c));
                }
            }
        }
    }

    /**
     * Whether the split path (statistics across blocks, then rows_apply) is predicted to finish
     * before one block per row holding it in shared memory (rows_forward_block), by the launch model:
     * the block path moves 8 bytes a value against 12 but keeps only its resident blocks' loads in
     * flight (one row a block, one block an SM), so few long rows
     * leave SMs idle; the split passes fill the device (32 warps an SM, as the kernel table shows).
     */
    private static boolean splitIsFaster(CudaKit gpu, long rows, long length, boolean vec) {
        double bytes = 4.0 * rows * length;
        double block = pass(gpu, 2 * bytes, vec ? "rows_forward_block_vec" : "rows_forward_block",
                onePassThreads(gpu, rows));
        double split = pass(gpu, bytes, "segments_welford_partial", fullThreads(gpu)) + gpu.model().launch()
                + pass(gpu, 2 * bytes, vec ? "rows_apply_vec" : "rows_apply", fullThreads(gpu));
        return split < block;
    }

    /** Predicted seconds of one pass of a streaming kernel moving {@code bytes} with {@code threads} resident. */
    private static double pass(CudaKit gpu, double bytes, String kernel, double threads) {
        return gpu.model().seconds(bytes, threads * KernelStreams.of(kernel).bytesInFlight());
    }

    /** Threads of a one-pass path resident: a 1024-thread block per row, one an SM (at 52–64 registers). */
    private static double onePassThreads(CudaKit gpu, long rows) {
        return (double) Math.min(rows, gpu.info().multiprocessors()) * CudaKit.BIG_BLOCK;
    }

    /** Threads of a split pass resident: they fill the device, 32 warps an SM (as the kernel table shows). */
    private static double fullThreads(CudaKit gpu) {
        return 1024.0 * gpu.info().multiprocessors();
    }

    /**
     * The gradient of {@link Forward}: with {@code g = dy·weight} and {@code x̂ = (x − mean)·rstd},
     * {@code dx = rstd·(g − mean(g) − x̂·mean(g·x̂))} per row (RMS rows: without {@code mean(g)});
     * {@code gradWeight += Σ dy·x̂}, {@code gradBias += Σ dy} over the elements using each parameter.
     */
    record Backward(RowsLayout layout, Tensor x, Tensor dy, Tensor saveMean, Tensor saveRstd, Tensor weight,
                    Tensor dx, Tensor gradWeight, Tensor gradBias) implements SixteenBitOp {
        @Override
        public String name() {
            return "rows backward";
        }

        @Override
        public Shape shape() {
            return x.shape();
        }

        @Override
        public void reference(CpuKit cpu) {
            double[] xs = cpu.read(x);
            double[] dys = cpu.read(dy);
            double[] mean = saveMean == null ? new double[(int) layout.rows()] : cpu.read(saveMean);
            double[] rstd = cpu.read(saveRstd);
            RowParameters w = RowParameters.of(layout, cpu.read(weight), 1);
            int length = (int) layout.length();
            double[] dxs = new double[xs.length];
            CpuKit.forEach((int) layout.rows(), xs.length, r -> {
                int start = r * length;
                double[] wr = w.row(r);
                double sumG = 0;
                double sumGXhat = 0;
                for (int j = 0; j < length; j++) {
                    double g = dys[start + j] * wr[j];
                    sumG += g;
                    sumGXhat += g * (xs[start + j] - mean[r]) * rstd[r];
                }
                double meanG = layout.centered() ? sumG / length : 0;
                double meanGXhat = sumGXhat / length;
                for (int j = 0; j < length; j++) {
                    double xhat = (xs[start + j] - mean[r]) * rstd[r];
                    dxs[start + j] = rstd[r] * (dys[start + j] * wr[j] - meanG - xhat * meanGXhat);
                }
            });
            cpu.write(dx, dxs);
            if (gradWeight != null || gradBias != null) {
                // Per pattern position first, in row order, then folded onto the parameters.
                double[][] gw = new double[w.patterns()][length];
                double[][] gb = new double[w.patterns()][length];
                for (int r = 0; r < layout.rows(); r++) {
                    double[] gwr = gw[w.pattern(r)];
                    double[] gbr = gb[w.pattern(r)];
                    for (int j = 0, i = r * length; j < length; j++, i++) {
                        gwr[j] += dys[i] * (xs[i] - mean[r]) * rstd[r];
                        gbr[j] += dys[i];
                    }
                }
                cpu.accumulate(gradWeight, w.fold(gw));
                cpu.accumulate(gradBias, w.fold(gb));
            }
        }

        @Override
        public boolean float32(CpuKit cpu) {
            if (!Float32Loops.float32(x, dy, dx) || x.numel() == 0) {
                return false;
            }
            int params = (int) (layout.affine() == RowsLayout.Affine.PER_CHANNEL ? layout.channels() : layout.length());
            double[] gw = gradWeight == null ? null : new double[params];
            double[] gb = gradBias == null ? null : new double[params];
            Float32Loops.rowsBackward(layout, Float32Loops.f32(cpu, x), Float32Loops.f32(cpu, dy),
                    saveMean == null ? new double[(int) layout.rows()] : cpu.read(saveMean), cpu.read(saveRstd),
                    Float32Loops.f32(cpu, weight), Float32Loops.f32(cpu, dx), gw, gb);
            cpu.accumulate(gradWeight, gw);
            cpu.accumulate(gradBias, gb);
            return true;
        }

        /**
         * Elementwise affine (LayerNorm, RMSNorm): a row per warp or per block (rows.cu), then the
         * parameter gradients by columns over chunks of rows, summed in a fixed tree. Per-channel
         * affine (InstanceNorm, GroupNorm): through per-(n, c) sums and channels.cu's elementwise pass.
         */
        @Override
        public void launch(CudaKit gpu) {
            try (Scratch s = gpu.scratch()) {
                if (layout.affine() == RowsLayout.Affine.PER_CHANNEL) {
                    groupBackward(gpu, s);
                    return;
                }
                long rows = layout.rows();
                long length = layout.length();
                boolean grads = gradWeight != null || gradBias != null;
                Sums out = new Sums(gpu.pointer(gradWeight), gpu.pointer(gradBias));
                DType storage = gpu.storage(x);
                // 16 bytes at a time (teams: float4 pairs, or packs of eight 16-bit values; the block
                // and split paths: a float4 or a pack) where rows allow
                int width = storage == DType.FLOAT32 ? 4 : 8;
                boolean packs = length % width == 0 && gpu.aligned(x, dy, dx);
                Team team = Team.of(length, packs ? 8 : 4);
                long shared = team != null && grads ? 8 * team.teams() * length : 0; // the teams' column sums
                if (team != null && shared <= gpu.info().sharedMemoryPerBlock() - 1024) {
                    // with thread-block clusters (compute capability 9.0) a cluster's blocks add their
                    // column sums on chip and the cluster writes one set of partials
                    int cluster = grads ? gpu.clusterBlocks() : 1;
                    long blocks = fusedBlocks(gpu, rows, length, team.teams(), grads, storage.bytes(), cluster);
                    long sets = blocks / cluster;
                    DevicePointer partials = grads ? s.floats(2 * length * sets) : null;
                    fusedKernel(storage, packs, cluster > 1).x(gpu.pointer(x))
                            .dy(gpu.pointer(dy)).mean(gpu.pointer(saveMean)).rstd(gpu.pointer(saveRstd))
                            .w(gpu.pointer(weight)).dx(gpu.pointer(dx)).rows(rows).L((int) length)
                            .centered(layout.centered() ? 1 : 0).partials(partials)
                            .launch(gpu.launcher(), blocks, (int) shared);
                    if (grads) {
                        gpu.finalizeSums(s, partials, length, sets, out, true);
                    }
                    return;
                }
                (packs ? CudaKit.byStorage(storage, Kernels.rowsBackwardBlockVec(), Kernels.rowsBackwardBlockVecF16(),
                        Kernels.rowsBackwardBlockVecBf16()) : CudaKit.byStorage(storage, Kernels.rowsBackwardBlock(),
                        Kernels.rowsBackwardBlockF16(), Kernels.rowsBackwardBlockBf16())).x(gpu.pointer(x))
                        .dy(gpu.pointer(dy)).mean(gpu.pointer(saveMean)).rstd(gpu.pointer(saveRstd))
                        .w(gpu.pointer(weight)).dx(gpu.pointer(dx)).rows(rows).L(length)
                        .centered(layout.centered() ? 1 : 0).launch(gpu.launcher(), gpu.itemBlocks(rows), 0);
                if (grads) {
                    // Chunks of rows: enough threads to fill the device, fewer where their partials
                    // (16 bytes per column, written and read) would weigh over 1/32 of the 8 bytes per
                    // value they stand for; at most MAX_SERIAL rows each.
                    long chunks = CudaKit.clamp(Math.min(CudaKit.ceilDiv(gpu.threadsToFill(), length), rows / 64),
                            CudaKit.ceilDiv(rows, CudaKit.MAX_SERIAL), rows);
                    // one chunk adds its column sums into the gradients itself: no partials, no finalize
                    DevicePointer partials = chunks > 1 ? s.floats(2 * length * chunks) : null;
                    (packs ? CudaKit.byStorage(storage, Kernels.rowsParamGradsPartialVec(),
                            Kernels.rowsParamGradsPartialVecF16(), Kernels.rowsParamGradsPartialVecBf16())
                            : CudaKit.byStorage(storage, Kernels.rowsParamGradsPartial(),
                            Kernels.rowsParamGradsPartialF16(), Kernels.rowsParamGradsPartialBf16()))
                            .x(gpu.pointer(x)).dy(gpu.pointer(dy)).mean(gpu.pointer(saveMean))
                            .rstd(gpu.pointer(saveRstd)).rows(rows).L(length).chunks(chunks).partials(partials)
                            .gradW(chunks > 1 ? null : gpu.pointer(gradWeight))
                            .gradB(chunks > 1 ? null : gpu.pointer(gradBias))
                            .launch(gpu.launcher(), gpu.grid(length / (packs ? width : 1) * chunks), 0);
                    if (partials != null) {
                        gpu.finalizeSums(s, partials, length, chunks, out, true);
                    }
                }
            }
        }

        /** rows_backward_fused for the storage, in 16-byte packs or not, in thread-block clusters or not. */
        private static Kernels.RowsBackwardFusedArgs fusedKernel(DType storage, boolean packs, boolean clusters) {
            if (clusters) {
                return packs ? CudaKit.byStorage(storage, Kernels.rowsBackwardFusedClusterVec(),
                        Kernels.rowsBackwardFusedClusterVecF16(), Kernels.rowsBackwardFusedClusterVecBf16())
                        : CudaKit.byStorage(storage, Kernels.rowsBackwardFusedCluster(),
                        Kernels.rowsBackwardFusedClusterF16(), Kernels.rowsBackwardFusedClusterBf16());
            }
            return packs ? CudaKit.byStorage(storage, Kernels.rowsBackwardFusedVec(), Kernels.rowsBackwardFusedVecF16(),
                    Kernels.rowsBackwardFusedVecBf16())
                    : CudaKit.byStorage(storage, Kernels.rowsBackwardFused(), Kernels.rowsBackwardFusedF16(),
                    Kernels.rowsBackwardFusedBf16());
        }

        /**
         * Blocks of rows_backward_fused, by the launch model: each block in flight has its teams'
         * rows of x and dy loaded ({@code bytes} per value each: 4, or 2 for 16-bit storage), one
         * block per SM (1024 threads at 64 registers fill its register file), and each block, or
         * each cluster of {@code cluster} blocks, adds 16 bytes per column of partials (written, then
         * read by the finalize) when the parameter gradients are wanted. At least enough blocks that
         * no team adds more than MAX_SERIAL rows into its fp32 column sums (the sums across blocks
         * are added in double by the finalize); a whole number of clusters.
         */
        private static long fusedBlocks(CudaKit gpu, long rows, long length, long teams, boolean grads, int bytes,
                                        int cluster) {
            long resident = gpu.info().multiprocessors();
            long least = CudaKit.ceilDiv(CudaKit.ceilDiv(rows, teams * CudaKit.MAX_SERIAL), cluster);
            long most = Math.max(least, CudaKit.ceilDiv(Math.min(CudaKit.ceilDiv(rows, teams), 16L * resident),
                    cluster));
            return cluster * gpu.model().bestBlocks(least, most,
                    k -> 3.0 * bytes * rows * length + (grads ? 16.0 * k * length : 0),
                    k -> 2.0 * bytes * Math.min(k * cluster, resident) * teams * length);
        }

        /**
         * InstanceNorm and GroupNorm: rows are (n, group) of C/G channels. Where a row's x and dy fit
         * in a block's shared memory, one fused pass (rows.cu group_backward_fused: 12 B per element),
         * unless the launch model predicts the split path faster (a few groups leave SMs idle); else
         * the per-(n, c) sums, the coefficients and the elementwise pass (20 B).
         */
        private void groupBackward(CudaKit gpu, Scratch s) {
            long c = layout.channels();
            long sp = layout.spatial();
            long perGroup = layout.length() / sp;
            long groups = c / perGroup;
            NcsLayout nc = new NcsLayout(layout.rows() / groups, c, sp);
            long q = nc.n() * c;
            Sums sums = new Sums(s.floats(q), s.floats(q));
            long shared = 4 * (2 * layout.length() + 2 * perGroup);
            DType storage = gpu.storage(x);
            // float4s, or 16-byte packs of 8 16-bit values, where a channel's run allows
            boolean vec = sp % (storage == DType.FLOAT32 ? 4 : 8) == 0 && gpu.aligned(x, dy, dx);
            double bytes = (double) storage.bytes() * layout.rows() * layout.length();
            boolean onePass = shared <= gpu.info().sharedMemoryPerBlock() - 1024 // the group on chip: x and dy read once
                    && pass(gpu, 3 * bytes, vec ? "group_backward_fused_vec" : "group_backward_fused",
                    onePassThreads(gpu, layout.rows()))
                    <= pass(gpu, 2 * bytes, "segments_sums_partial", fullThreads(gpu)) + 2 * gpu.model().launch()
                    + pass(gpu, 3 * bytes, vec ? "nc_apply_backward_vec" : "nc_apply_backward", fullThreads(gpu));
            if (onePass) {
                (vec ? CudaKit.byStorage(storage, Kernels.groupBackwardFusedVec(), Kernels.groupBackwardFusedVecF16(),
                        Kernels.groupBackwardFusedVecBf16()) : CudaKit.byStorage(storage, Kernels.groupBackwardFused(),
                        Kernels.groupBackwardFusedF16(), Kernels.groupBackwardFusedBf16())).x(gpu.pointer(x))
                        .dy(gpu.pointer(dy)).mean(gpu.pointer(saveMean)).rstd(gpu.pointer(saveRstd))
                        .w(gpu.pointer(weight)).dx(gpu.pointer(dx)).rows(layout.rows()).C(c).cpg((int) perGroup)
                        .S((int) sp).sumDy(sums.dy()).sumDyX(sums.dyX())
                        .launch(gpu.launcher(), gpu.itemBlocks(layout.rows()), (int) shared);
            } else {
                gpu.sums(s, Segments.instances(x, nc), dy, gpu.pointer(saveMean),
                        perGroup,
                        sums);
                DevicePointer a = s.floats(q);
                DevicePointer b = s.floats(q);
                DevicePointer d = s.floats(q);
                Kernels.groupBackwardCoefficients().sumDy(sums.dy()).sumDyX(sums.dyX()).rstd(gpu.pointer(saveRstd))
                        .w(gpu.pointer(weight)).N(nc.n()).C(c).G(groups).S(sp).A(a).B(b).D(d)
                        .launch(gpu.launcher(), gpu.grid(layout.rows()));
                gpu.applyBackward(dy, x, dx, nc, new Coefficients(a, b, d, gpu.pointer(saveMean), perGroup, true));
            }
            if (gradWeight != null || gradBias != null) {
                Kernels.ncParamGrads().sumDy(sums.dy()).sumDyX(sums.dyX()).rstd(gpu.pointer(saveRstd))
                        .rstdDivisor(perGroup).N(nc.n()).C(c).gradW(gpu.pointer(gradWeight))
                        .gradB(gpu.pointer(gradBias)).launch(gpu.launcher(), gpu.grid(c));
            }
        }
    }
}
