package dev.jnorm.norm;

import dev.jnorm.backend.NcsLayout;
import dev.jnorm.backend.NormOp;
import dev.jnorm.backend.cpu.internal.CpuKit;
import dev.jnorm.backend.cpu.internal.Moments;
import dev.jnorm.backend.cuda.internal.CudaKit;
import dev.jnorm.backend.cuda.internal.Kernels;
import dev.jnorm.tensor.Shape;
import dev.jnorm.tensor.Tensor;

/**
 * WeightNorm, {@code w = g_b · v / ‖v_b‖}, with {@code v} seen as {@code [outer, slices, inner]}
 * and {@code ‖v_b‖} the Euclidean norm of slice b over (outer, inner): forward and backward, as the
 * float64 reference and as the CUDA launch plan (weight.cu: a block per slice).
 */
final class WeightNormOp {
    private WeightNormOp() {
    }

    /** {@code w = g_b·v/‖v_b‖}, saving the norms ({@code [slices]}). */
    record Forward(NcsLayout layout, Tensor v, Tensor g, Tensor w, Tensor saveNorm) implements NormOp {
        @Override
        public String name() {
            return "weight norm forward";
        }

        @Override
        public Shape shape() {
            return v.shape();
        }

        @Override
        public void reference(CpuKit cpu) {
            double[] vs = cpu.read(v);
            double[] gs = cpu.read(g);
            int slices = (int) layout.c();
            int inner = (int) layout.s();
            double[] norm = new double[slices];
            for (int b = 0; b < slices; b++) {
                norm[b] = Math.sqrt(Moments.sumOfSquares(vs, b * inner, inner, (int) layout.n(), slices * inner, 0));
            }
            double[] ws = new double[vs.length];
            CpuKit.forEachElementByChannel(layout, vs.length, (i, b) -> ws[i] = vs[i] * (gs[b] / norm[b]));
            cpu.write(w, ws);
            cpu.write(saveNorm, norm);
        }

        @Override
        public void launch(CudaKit gpu) {
            Kernels.weightNormForward().v(gpu.pointer(v)).g(gpu.pointer(g)).w(gpu.pointer(w))
                    .norm(gpu.pointer(saveNorm)).outer(layout.n()).slices(layout.c()).inner(layout.s())
                    .launch(gpu.launcher(), gpu.itemBlocks(layout.c()));
        }
    }

    /**
     * The gradient of {@link Forward}: {@code gradG_b += Σ dw·v / ‖v_b‖},
     * {@code gradV += (g_b/‖v_b‖)·(dw − v·Σ(dw·v)/‖v_b‖²)}.
     */
    record Backward(NcsLayout layout, Tensor v, Tensor g, Tensor saveNorm, Tensor dw, Tensor gradV, Tensor gradG)
            implements NormOp {
        @Override
        public String name() {
            return "weight norm backward";
        }

        @Override
        public Shape shape() {
            return v.shape();
        }

        @Override
        public void reference(CpuKit cpu) {
            double[] vs = cpu.read(v);
            double[] gs = cpu.read(g);
            double[] norm = cpu.read(saveNorm);
            double[] dws = cpu.read(dw);
            int slices = (int) layout.c();
            double[] dot = new double[slices];
            CpuKit.forEachElementByChannel(layout, 0, (i, b) -> dot[b] += dws[i] * vs[i]); // work 0: sequential
            double[] dg = new double[slices];
            for (int b = 0; b < slices; b++) {
                dg[b] = dot[b] / norm[b];
            }
            double[] dv = new double[vs.length];
            CpuKit.forEachElementByChannel(layout, vs.length, (i, b) ->
                    dv[i] = gs[b] / norm[b] * (dws[i] - vs[i] * dot[b] / (norm[b] * norm[b])));
            cpu.accumulate(gradV, dv);
            cpu.accumulate(gradG, dg);
        }

        @Override
        public void launch(CudaKit gpu) {
            Kernels.weightNormBackward().v(gpu.pointer(v)).g(gpu.pointer(g)).norm(gpu.pointer(saveNorm))
                    .dw(gpu.pointer(dw)).gradV(gpu.pointer(gradV)).gradG(gpu.pointer(gradG)).outer(layout.n())
                    .slices(layout.c()).inner(layout.s()).launch(gpu.launcher(), gpu.itemBlocks(layout.c()));
        }
    }
}
