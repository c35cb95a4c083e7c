package dev.stepwise.processor;

import com.squareup.javapoet.CodeBlock;
import com.squareup.javapoet.MethodSpec;
import com.squareup.javapoet.TypeName;
import com.squareup.javapoet.TypeSpec;
import dev.stepwise.processor.OnnxConfigModel.TensorModel;
import javax.lang.model.element.Modifier;

/**
 * Generates {@code XDummyInputs.create(config, batch, sequence, seed)} for an encoder: one statement per declared
 * input. The mask pads rows on the right (BERT's tokenizers pad right); token types mark the second half of each
 * row's real tokens as sentence B, as a sentence pair would.
 */
final class EncoderDummyInputsGenerator {
    private static final String MASK = "attentionMask";

    private final SourceWriter writer;

    EncoderDummyInputsGenerator(SourceWriter writer) {
        this.writer = writer;
    }

    boolean generate(EncoderConfigModel model, GeneratedNames names) {
        MethodSpec.Builder m = MethodSpec.methodBuilder("create")
                .addJavadoc("{@code batch} rows of {@code sequence} tokens, rows after the first right-padded; the"
                        + " same {@code seed} gives the same tensors.\n")
                .addModifiers(Modifier.PUBLIC, Modifier.STATIC)
                .returns(RuntimeTypes.DUMMY_INPUTS)
                .addParameter(RuntimeTypes.MODEL_CONFIG, "config")
                .addParameter(TypeName.INT, "batch")
                .addParameter(TypeName.INT, "sequence")
                .addParameter(TypeName.LONG, "seed")
                .addStatement("$T inputs = new $T()", RuntimeTypes.DUMMY_INPUTS, RuntimeTypes.DUMMY_INPUTS)
                .addStatement("$T $L = $T.rightPaddedMask(batch, sequence)", RuntimeTypes.HOST_TENSOR, MASK,
                        RuntimeTypes.DUMMY_TENSORS);
        for (TensorModel t : model.encoder().inputs()) {
            CodeBlock value = switch (t.name().value()) {
                case OnnxConfigModel.INPUT_IDS -> CodeBlock.of("$T.inputIds(config.vocabSize(), batch, sequence, seed)",
                        RuntimeTypes.DUMMY_TENSORS);
                case OnnxConfigModel.ATTENTION_MASK -> CodeBlock.of(MASK);
                case EncoderConfigModel.TOKEN_TYPE_IDS -> CodeBlock.of("$T.sentencePairTypes($L, config.getInt($S, 2))",
                        RuntimeTypes.DUMMY_TENSORS, MASK, "type_vocab_size");
                default -> CodeBlock.of("$T.positionIds($L, sequence)", RuntimeTypes.DUMMY_TENSORS, MASK);
            };
            m.addStatement("inputs.put($S, $L)", t.name().value(), value);
        }
        TypeSpec type = writer.mark(TypeSpec.classBuilder(names.dummyInputs()))
                .addModifiers(Modifier.PUBLIC, Modifier.FINAL)
                .addJavadoc("Dummy inputs for validating an export of {@link $T}, shaped as its {@code @EncoderConfig}"
                        + " declares them.\n", names.annotated())
                .addMethod(MethodSpec.constructorBuilder().addModifiers(Modifier.PRIVATE).build())
                .addMethod(m.addStatement("return inputs").build())
                .build();
        return writer.write(names.packageName(), type, model.type());
    }
}
