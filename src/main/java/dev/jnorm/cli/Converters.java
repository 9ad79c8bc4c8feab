package dev.jnorm.cli;

import dev.jnorm.norm.NormRegistry;
import dev.jnorm.norm.NormSpec;
import dev.jnorm.study.SmallBatchStudy;
import dev.jnorm.tensor.DType;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

/** The command line's own option types; their errors are whole messages, printed as they are. */
final class Converters {
    private Converters() {
    }

    /** A conversion error whose message is the whole one-line message for the user. */
    static final class BadValue extends TypeConversionException {
        BadValue(String message) {
            super(message);
        }
    }

    /** A 16-bit storage type: float16 or bfloat16. */
    static final class Storage implements ITypeConverter<DType> {
        @Override
        public DType convert(String name) {
            return switch (name) {
                case "float16" -> DType.FLOAT16;
                case "bfloat16" -> DType.BFLOAT16;
                default -> throw new BadValue("--storage must be float16 or bfloat16; got '" + name + "'");
            };
        }
    }

    /** The study's activations: float32, or a 16-bit type for mixed precision. */
    static final class Activations implements ITypeConverter<DType> {
        @Override
        public DType convert(String name) {
            return switch (name) {
                case "float32" -> DType.FLOAT32;
                case "bfloat16" -> DType.BFLOAT16;
                case "float16" -> DType.FLOAT16;
                default -> throw new BadValue("--dtype must be float32, bfloat16 or float16; got '" + name + "'");
            };
        }
    }

    /** The study's learning-rate schedule by its command-line name. */
    static final class Schedule implements ITypeConverter<SmallBatchStudy.Schedule> {
        @Override
        public SmallBatchStudy.Schedule convert(String name) {
            for (SmallBatchStudy.Schedule s : SmallBatchStudy.Schedule.values()) {
                if (s.commandName().equals(name)) {
                    return s;
                }
            }
            throw new BadValue("--schedule must be cosine or constant; got '" + name + "'");
        }
    }

    /** A norm by its command-line name. */
    static final class Norm implements ITypeConverter<NormSpec> {
        @Override
        public NormSpec convert(String name) {
            try {
                return NormRegistry.named(name);
            } catch (IllegalArgumentException e) {
                throw new BadValue(e.getMessage());
            }
        }
    }
}
