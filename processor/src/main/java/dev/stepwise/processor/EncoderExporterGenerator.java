package dev.stepwise.processor;

import com.squareup.javapoet.ClassName;
import com.squareup.javapoet.CodeBlock;
import com.squareup.javapoet.MethodSpec;
import com.squareup.javapoet.FieldSpec;
import com.squareup.javapoet.TypeName;
import com.squareup.javapoet.TypeSpec;
import dev.stepwise.annotations.DType;
import dev.stepwise.annotations.Task;
import dev.stepwise.processor.OnnxConfigModel.TensorModel;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import javax.lang.model.element.Modifier;

/**
 * Generates {@code XExporter} for an {@code @EncoderConfig} class: the {@code EncoderArchitecture} the runtime finds
 * through {@code ServiceLoader}, its spec spelled out literally, a factory for X, its dummy inputs and static
 * {@code run(...)} entry points (the task then comes from config.json's {@code architectures}, as in optimum).
 */
final class EncoderExporterGenerator {
    private static final ClassName LIST = ClassName.get(List.class);
    private static final ClassName MAP = ClassName.get(Map.class);
    private static final ClassName TASK = ClassName.get(Task.class);
    private static final ClassName DTYPE = ClassName.get(DType.class);

    private final SourceWriter writer;

    EncoderExporterGenerator(SourceWriter writer) {
        this.writer = writer;
    }

    boolean generate(EncoderConfigModel model, GeneratedNames names) {
        ClassName self = names.exporter();
        TypeSpec type = writer.mark(TypeSpec.classBuilder(self))
                .addModifiers(Modifier.PUBLIC, Modifier.FINAL)
                .addSuperinterface(RuntimeTypes.ENCODER_ARCHITECTURE)
                .addJavadoc("Exports {@link $T} checkpoints (model_type {@code $L}, encoder-only) to ONNX.\n",
                        names.annotated(), model.modelType().value())
                .addField(FieldSpec.builder(RuntimeTypes.ENCODER_SPEC, "SPEC",
                                Modifier.PRIVATE, Modifier.STATIC, Modifier.FINAL)
                        .initializer(spec(model, names))
                        .build())
                .addMethod(MethodSpec.constructorBuilder()
                        .addJavadoc("For {@code ServiceLoader}.\n")
                        .addModifiers(Modifier.PUBLIC)
                        .build())
                .addMethod(override("spec", RuntimeTypes.ENCODER_SPEC).addStatement("return SPEC").build())
                .addMethod(override("newModel", RuntimeTypes.ENCODER_MODEL)
                        .addStatement("return new $T()", names.annotated())
                        .build())
                .addMethod(override("dummyInputs", RuntimeTypes.DUMMY_INPUTS)
                        .addParameter(RuntimeTypes.MODEL_CONFIG, "config")
                        .addParameter(TypeName.INT, "batch")
                        .addParameter(TypeName.INT, "sequence")
                        .addParameter(TypeName.LONG, "seed")
                        .addStatement("return $T.create(config, batch, sequence, seed)", names.dummyInputs())
                        .build())
                .addMethod(MethodSpec.methodBuilder("run")
                        .addJavadoc("Exports with the default options; the task follows config.json's architectures.\n")
                        .addModifiers(Modifier.PUBLIC, Modifier.STATIC)
                        .returns(RuntimeTypes.EXPORT_RESULT)
                        .addParameter(Path.class, "checkpointDir")
                        .addParameter(Path.class, "outputDir")
                        .addStatement("return run(checkpointDir, outputDir, $T.defaults())", RuntimeTypes.EXPORT_OPTIONS)
                        .build())
                .addMethod(MethodSpec.methodBuilder("run")
                        .addModifiers(Modifier.PUBLIC, Modifier.STATIC)
                        .returns(RuntimeTypes.EXPORT_RESULT)
                        .addParameter(Path.class, "checkpointDir")
                        .addParameter(Path.class, "outputDir")
                        .addParameter(RuntimeTypes.EXPORT_OPTIONS, "options")
                        .addStatement("return $T.export(new $T(), checkpointDir, outputDir, options)",
                                RuntimeTypes.ENCODER_EXPORTER, self)
                        .build())
                .addMethod(MethodSpec.methodBuilder("config")
                        .addJavadoc("The checkpoint's config.json, normalized.\n")
                        .addModifiers(Modifier.PUBLIC, Modifier.STATIC)
                        .returns(names.config())
                        .addParameter(Path.class, "checkpointDir")
                        .addStatement("return $T.read(checkpointDir.resolve($S))", names.config(), "config.json")
                        .build())
                .build();
        return writer.write(names.packageName(), type, model.type());
    }

    private static MethodSpec.Builder override(String name, TypeName returns) {
        return MethodSpec.methodBuilder(name).addAnnotation(Override.class).addModifiers(Modifier.PUBLIC)
                .returns(returns);
    }

    /** {@code new EncoderSpec(...)}: every value of the annotation written out, outputs keyed by task. */
    private static CodeBlock spec(EncoderConfigModel model, GeneratedNames names) {
        CodeBlock outputs = model.encoder().outputs().stream()
                .map(o -> CodeBlock.of("$T.$L, $L", TASK, o.task().value(), tensor(o.tensor())))
                .collect(CodeBlock.joining(",\n"));
        return CodeBlock.builder()
                .add("new $T(\n", RuntimeTypes.ENCODER_SPEC).indent().indent()
                .add("$S,\n", model.modelType().value())
                .add("$T.of($L),\n", LIST, model.tasks().stream()
                        .map(t -> CodeBlock.of("$T.$L", TASK, t.value()))
                        .collect(CodeBlock.joining(",$W")))
                .add("$L,\n", model.opset().value())
                .add("$L,\n", Double.toString(model.atol().value()))
                .add("$T.KEYS,\n", names.config())
                .add("$T.of($L),\n", LIST, model.encoder().inputs().stream()
                        .map(EncoderExporterGenerator::tensor).collect(CodeBlock.joining(",\n")))
                .add("$T.of(\n$L))", MAP, outputs)
                .unindent().unindent()
                .build();
    }

    private static CodeBlock tensor(TensorModel t) {
        return CodeBlock.of("new $T($S,$W$T.$L,$W$T.of($L))", RuntimeTypes.TENSOR_DECL, t.name().value(), DTYPE,
                t.type().value(), LIST, t.axes().stream().map(a -> CodeBlock.of("$S", a.value()))
                        .collect(CodeBlock.joining(",$W")));
    }

}
