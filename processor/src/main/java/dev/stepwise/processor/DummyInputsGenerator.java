package dev.stepwise.processor;

import com.squareup.javapoet.CodeBlock;
import com.squareup.javapoet.MethodSpec;
import com.squareup.javapoet.TypeName;
import com.squareup.javapoet.TypeSpec;
import dev.stepwise.annotations.DType;
import dev.stepwise.annotations.Task;
import dev.stepwise.processor.OnnxConfigModel.CacheModel;
import dev.stepwise.processor.OnnxConfigModel.TensorModel;
import java.util.List;
import java.util.Optional;
import javax.lang.model.element.Modifier;
import javax.lang.model.element.TypeElement;

/**
 * Generates {@code XDummyInputs.create(...)}: one statement per declared input, and for a decoder one per past key
 * and value in a loop over the layers. Every axis is turned into its size expression here, at generation time, so
 * the generated code reads like a hand-written one and does no axis lookups at run time.
 *
 * <p>A decoder's {@code create(config, batch, sequence, past, seed)} left-pads its mask; integer inputs are built as
 * int64 even when declared INT32: the runtime converts them when it feeds the graph. An encoder's
 * {@code create(config, batch, sequence, seed)} pads rows on the right (BERT's tokenizers pad right); token types
 * mark the second half of each row's real tokens as sentence B, as a sentence pair would.
 */
final class DummyInputsGenerator {
    private static final String MASK = "attentionMask";

    private final SourceWriter writer;

    DummyInputsGenerator(SourceWriter writer) {
        this.writer = writer;
    }

    boolean generate(OnnxConfigModel model, GeneratedNames names) {
        return write(names, "@OnnxConfig", model.type(), create(model));
    }

    boolean generate(EncoderConfigModel model, GeneratedNames names) {
        MethodSpec.Builder m = createStart("{@code batch} rows of {@code sequence} tokens, rows after the first"
                + " right-padded; the same {@code seed} gives the same tensors.\n", false)
                .addStatement("$T $L = $T.rightPaddedMask(batch, sequence)", RuntimeTypes.HOST_TENSOR, MASK,
                        RuntimeTypes.DUMMY_TENSORS);
        for (TensorModel t : model.encoder().inputs()) {
            CodeBlock value = switch (t.name().value()) {
                case OnnxConfigModel.INPUT_IDS -> CodeBlock.of("$T.inputIds(config.vocabSize(), batch, sequence,"
                        + " seed)", RuntimeTypes.DUMMY_TENSORS);
                case OnnxConfigModel.ATTENTION_MASK -> CodeBlock.of(MASK);
                case EncoderConfigModel.TOKEN_TYPE_IDS -> CodeBlock.of("$T.sentencePairTypes($L,"
                        + " config.getInt($S, 2))", RuntimeTypes.DUMMY_TENSORS, MASK, "type_vocab_size");
                default -> CodeBlock.of("$T.positionIds($L, sequence)", RuntimeTypes.DUMMY_TENSORS, MASK);
            };
            m.addStatement("inputs.put($S, $L)", t.name().value(), value);
        }
        return write(names, "@EncoderConfig", model.type(), m.addStatement("return inputs").build());
    }

    /** The parameters of {@code create} (and of the exporter's {@code dummyInputs}); {@code past} for a decoder. */
    static MethodSpec.Builder parameters(MethodSpec.Builder m, boolean withPast) {
        m.addParameter(RuntimeTypes.MODEL_CONFIG, "config")
                .addParameter(TypeName.INT, "batch")
                .addParameter(TypeName.INT, "sequence");
        if (withPast) {
            m.addParameter(TypeName.INT, "past");
        }
        return m.addParameter(TypeName.LONG, "seed");
    }

    /** Those parameters passed on, as the exporter's {@code dummyInputs} calls {@code create}. */
    static String arguments(boolean withPast) {
        return withPast ? "config, batch, sequence, past, seed" : "config, batch, sequence, seed";
    }

    private boolean write(GeneratedNames names, String annotation, TypeElement origin, MethodSpec create) {
        TypeSpec type = writer.mark(TypeSpec.classBuilder(names.dummyInputs()))
                .addModifiers(Modifier.PUBLIC, Modifier.FINAL)
                .addJavadoc("Dummy inputs for validating an export of {@link $T}, shaped as its {@code $L}"
                        + " declares them.\n", names.annotated(), annotation)
                .addMethod(MethodSpec.constructorBuilder().addModifiers(Modifier.PRIVATE).build())
                .addMethod(create)
                .build();
        return writer.write(names.packageName(), type, origin);
    }

    /** {@code public static DummyInputs create(...)} up to its empty {@code inputs}. */
    private static MethodSpec.Builder createStart(String javadoc, boolean withPast) {
        return parameters(MethodSpec.methodBuilder("create")
                .addJavadoc(javadoc)
                .addModifiers(Modifier.PUBLIC, Modifier.STATIC)
                .returns(RuntimeTypes.DUMMY_INPUTS), withPast)
                .addStatement("$T inputs = new $T()", RuntimeTypes.DUMMY_INPUTS, RuntimeTypes.DUMMY_INPUTS);
    }

    private MethodSpec create(OnnxConfigModel model) {
        MethodSpec.Builder m = createStart("{@code batch} rows of {@code sequence} new tokens after {@code past}"
                + " cached ones (0 = prefill); the same {@code seed} gives the same tensors.\n", true);
        maskStatement(model).ifPresent(m::addStatement);
        int other = 0;
        for (TensorModel t : model.inputs()) {
            CodeBlock value = switch (t.name().value()) {
                case OnnxConfigModel.INPUT_IDS -> CodeBlock.of("$T.inputIds(config.vocabSize(), $L, $L, seed)",
                        RuntimeTypes.DUMMY_TENSORS, size(t, 0), size(t, 1));
                case OnnxConfigModel.ATTENTION_MASK -> CodeBlock.of(MASK);
                case OnnxConfigModel.POSITION_IDS -> CodeBlock.of("$T.positionIds($L, $L)",
                        RuntimeTypes.DUMMY_TENSORS, MASK, size(t, 1));
                default -> isInteger(t.type().value())
                        ? CodeBlock.of("$T.zerosLong($L)", RuntimeTypes.DUMMY_TENSORS, shape(t.axes()))
                        // negative offsets keep these seeds apart from the cache's positive ones
                        : CodeBlock.of("$T.randomFloats(seed - $L, $L)", RuntimeTypes.DUMMY_TENSORS, ++other,
                                shape(t.axes()));
            };
            m.addStatement("inputs.put($S, $L)", t.name().value(), value);
        }
        if (model.supports(Task.TEXT_GENERATION_WITH_PAST)) {
            CacheModel cache = model.cache();
            CodeBlock shape = shape(cache.axes());
            m.beginControlFlow("for (int layer = 0; layer < config.numLayers(); layer++)");
            for (int kind = 0; kind < CacheModel.KINDS.size(); kind++) {
                // seed + 1 + 2 * layer + kind: a different stream for every past tensor
                m.addStatement("inputs.put($L,$W$T.randomFloats(seed + $L + 2L * layer,$W$L))",
                        cacheName(cache.past().value(), CacheModel.KINDS.get(kind)), RuntimeTypes.DUMMY_TENSORS,
                        kind + 1, shape);
            }
            m.endControlFlow();
        }
        return m.addStatement("return inputs").build();
    }

    /**
     * Position ids are derived from the mask (left padding shifts them), so the mask is built first, whatever the
     * declaration order; without a declared mask, position ids still get one of their own shape plus the past.
     */
    private Optional<CodeBlock> maskStatement(OnnxConfigModel model) {
        Optional<TensorModel> mask = find(model, OnnxConfigModel.ATTENTION_MASK);
        Optional<TensorModel> positions = find(model, OnnxConfigModel.POSITION_IDS);
        CodeBlock dims;
        if (mask.isPresent()) {
            dims = CodeBlock.of("$L, $L", size(mask.get(), 0), size(mask.get(), 1));
        } else if (positions.isPresent()) {
            dims = CodeBlock.of("$L, past + $L", size(positions.get(), 0), size(positions.get(), 1));
        } else {
            return Optional.empty();
        }
        return Optional.of(CodeBlock.of("$T $L = $T.attentionMask($L)", RuntimeTypes.HOST_TENSOR, MASK,
                RuntimeTypes.DUMMY_TENSORS, dims));
    }

    private static Optional<TensorModel> find(OnnxConfigModel model, String name) {
        return model.inputs().stream().filter(t -> t.name().value().equals(name)).findFirst();
    }

    private static boolean isInteger(DType type) {
        return type == DType.INT64 || type == DType.INT32 || type == DType.BOOL;
    }

    /** The size expression of one axis: {@code batch}, {@code past + sequence}, {@code config.headDim()}, ... */
    static String sizeCode(String axis) {
        return String.join(" + ", Axis.of(axis).terms().stream().map(AxisSymbol::sizeCode).toList());
    }

    private static String size(TensorModel t, int index) {
        return sizeCode(t.axes().get(index).value());
    }

    private static CodeBlock shape(List<Located<String>> axes) {
        return axes.stream().map(a -> CodeBlock.of("$L", sizeCode(a.value()))).collect(CodeBlock.joining(",$W"));
    }

    /** {@code "past_key_values." + layer + ".key"} from {@code past_key_values.{layer}.{kind}}. */
    static CodeBlock cacheName(String pattern, String kind) {
        String[] parts = pattern.replace(CacheModel.KIND, kind).split("\\{layer\\}", -1);
        CodeBlock.Builder b = CodeBlock.builder();
        // String.valueOf keeps a pattern that starts with {layer} a String concatenation, not an int sum
        b.add(parts[0].isEmpty() ? CodeBlock.of("$T.valueOf(layer)", String.class) : CodeBlock.of("$S + layer",
                parts[0]));
        for (int i = 1; i < parts.length; i++) {
            if (!parts[i].isEmpty()) {
                b.add(" + $S", parts[i]);
            }
            if (i + 1 < parts.length) {
                b.add(" + layer");
            }
        }
        return b.build();
    }
}
