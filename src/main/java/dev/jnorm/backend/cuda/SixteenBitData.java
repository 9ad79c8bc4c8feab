package dev.jnorm.backend.cuda;

import dev.jnorm.backend.NormOp;
import dev.jnorm.tensor.Tensor;
import java.lang.reflect.RecordComponent;
import java.util.IdentityHashMap;
import java.util.Map;

/**
 * The 16-bit tensors an op holds, found in its record components (and those of the ops, lists and
 * records it holds), each with whether the op writes it. Only data is 16-bit (parameters and
 * statistics are float32): an op reads its input {@code x} and output gradient {@code dy} and
 * writes its output {@code y} or input gradient {@code dx}, by the names every op gives them.
 */
final class SixteenBitData {
    private SixteenBitData() {
    }

    /** The op's 16-bit tensors, in the order found, each mapped to true when the op writes it. */
    static Map<Tensor, Boolean> of(NormOp op) {
        Map<Tensor, Boolean> found = new IdentityHashMap<>();
        collect(op, null, found);
        return found;
    }

    private static void collect(Object value, String name, Map<Tensor, Boolean> found) {
        if (value instanceof Tensor t) {
            if (t.dtype().sixteenBit()) {
                found.merge(t, name.equals("y") || name.equals("dx"), Boolean::logicalOr);
            }
        } else if (value instanceof Iterable<?> items) {
            items.forEach(item -> collect(item, name, found));
        } else if (value instanceof Record r) {
            for (RecordComponent c : r.getClass().getRecordComponents()) {
                try {
                    c.getAccessor().setAccessible(true);
                    collect(c.getAccessor().invoke(r), c.getName(), found);
                } catch (ReflectiveOperationException e) {
                    throw new IllegalStateException("reading " + c + " of " + r.getClass().getName(), e);
                }
            }
        }
    }
}
