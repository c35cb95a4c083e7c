package dev.stepwise.processor;

import com.squareup.javapoet.ClassName;
import com.squareup.javapoet.CodeBlock;
import com.squareup.javapoet.FieldSpec;
import com.squareup.javapoet.MethodSpec;
import com.squareup.javapoet.TypeName;
import com.squareup.javapoet.TypeSpec;
import dev.stepwise.annotations.DType;
import dev.stepwise.annotations.Task;
import dev.stepwise.processor.OnnxConfigModel.CacheModel;
import dev.stepwise.processor.OnnxConfigModel.TensorModel;
import java.nio.file.Path;
import java.util.List;
import javax.lang.model.element.Modifier;

/**
 * Generates {@code XExporter}, the {@code Architecture} the runtime finds through {@code ServiceLoader}: the spec
 * spelled out literally from the annotation (so the runtime never reflects on annotations), a factory for X, its
 * dummy inputs, and static {@code run(...)} entry points.
 */
final class ExporterGenerator {
    private static final ClassName LIST = ClassName.get(List.class);
    private static final ClassName TASK = ClassName.get(Task.class);
    private static final ClassName DTYPE = ClassName.get(DType.class);

    private final SourceWriter writer;

    ExporterGenerator(SourceWriter writer) {
        this.writer = writer;
    }

    boolean generate(OnnxConfigModel model, GeneratedNames names) {
        ClassName self = names.exporter();
        TypeSpec type = writer.mark(TypeSpec.classBuilder(self))
                .addModifiers(Modifier.PUBLIC, Modifier.FINAL)
                .addSuperinterface(RuntimeTypes.ARCHITECTURE)
                .addJavadoc("Exports {@link $T} checkpoints (model_type {@code $L}) to ONNX.\n", names.annotated(),
                        model.modelType().value())
                .addField(FieldSpec.builder(RuntimeTypes.ARCHITECTURE_SPEC, "SPEC",
                                Modifier.PRIVATE, Modifier.STATIC, Modifier.FINAL)
                        .initializer(spec(model, names))
                        .build())
                .addMethod(MethodSpec.constructorBuilder()
                        .addJavadoc("For {@code ServiceLoader}.\n")
                        .addModifiers(Modifier.PUBLIC)
                        .build())
                .addMethod(override("spec", RuntimeTypes.ARCHITECTURE_SPEC).addStatement("return SPEC").build())
                .addMethod(override("newModel", RuntimeTypes.CAUSAL_LM)
                        .addStatement("return new $T()", names.annotated())
                        .build())
                .addMethod(override("dummyInputs", RuntimeTypes.DUMMY_INPUTS)
                        .addParameter(RuntimeTypes.MODEL_CONFIG, "config")
                        .addParameter(TypeName.INT, "batch")
                        .addParameter(TypeName.INT, "sequence")
                        .addParameter(TypeName.INT, "past")
                        .addParameter(TypeName.LONG, "seed")
                        .addStatement("return $T.create(config, batch, sequence, past, seed)", names.dummyInputs())
                        .build())
                .addMethod(MethodSpec.methodBuilder("run")
                        .addJavadoc("Exports with the default options$L.\n", defaultTaskNote(model))
                        .addModifiers(Modifier.PUBLIC, Modifier.STATIC)
                        .returns(RuntimeTypes.EXPORT_RESULT)
                        .addParameter(Path.class, "checkpointDir")
                        .addParameter(Path.class, "outputDir")
                        .addStatement("return run(checkpointDir, outputDir, $L)", defaultOptions(model))
                        .build())
                .addMethod(MethodSpec.methodBuilder("run")
                        .addModifiers(Modifier.PUBLIC, Modifier.STATIC)
                        .returns(RuntimeTypes.EXPORT_RESULT)
                        .addParameter(Path.class, "checkpointDir")
                        .addParameter(Path.class, "outputDir")
                        .addParameter(RuntimeTypes.EXPORT_OPTIONS, "options")
                        .addStatement("return $T.export(new $T(), checkpointDir, outputDir, options)",
                                RuntimeTypes.EXPORTER, self)
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

    /** The runtime defaults to the KV-cache decoder; an architecture without it defaults to its first task. */
    private static CodeBlock defaultOptions(OnnxConfigModel model) {
        if (model.supports(Task.TEXT_GENERATION_WITH_PAST)) {
            return CodeBlock.of("$T.defaults()", RuntimeTypes.EXPORT_OPTIONS);
        }
        return CodeBlock.of("$T.defaults().withTask($T.$L)", RuntimeTypes.EXPORT_OPTIONS, TASK,
                model.tasks().get(0).value());
    }

    private static String defaultTaskNote(OnnxConfigModel model) {
        Task task = model.supports(Task.TEXT_GENERATION_WITH_PAST) ? Task.TEXT_GENERATION_WITH_PAST
                : model.tasks().get(0).value();
        return " (task {@code " + task.cliName() + "})";
    }

    /** {@code new ArchitectureSpec(...)} with every value of the annotation written out. */
    private static CodeBlock spec(OnnxConfigModel model, GeneratedNames names) {
        CacheModel cache = model.cache();
        return CodeBlock.builder()
                .add("new $T(\n", RuntimeTypes.ARCHITECTURE_SPEC).indent().indent()
                .add("$S,\n", model.modelType().value())
                .add("$T.of($L),\n", LIST, model.tasks().stream()
                        .map(t -> CodeBlock.of("$T.$L", TASK, t.value()))
                        .collect(CodeBlock.joining(",$W")))
                .add("$L,\n", model.opset().value())
                .add("$L,\n", Double.toString(model.atol().value()))
                .add("$T.KEYS,\n", names.config())
                .add("$L,\n", tensors(model.inputs()))
                .add("new $T($S,$W$S,$W$T.$L,$W$L),\n", RuntimeTypes.CACHE_DECL, cache.past().value(),
                        cache.present().value(), DTYPE, cache.type().value(), strings(cache.axes()))
                .add("$L)", tensors(model.outputs()))
                .unindent().unindent()
                .build();
    }

    private static CodeBlock tensors(List<TensorModel> tensors) {
        CodeBlock.Builder b = CodeBlock.builder().add("$T.of(", LIST).indent().indent();
        for (int i = 0; i < tensors.size(); i++) {
            TensorModel t = tensors.get(i);
            b.add("\n$L$L", CodeBlock.of("new $T($S,$W$T.$L,$W$L)", RuntimeTypes.TENSOR_DECL, t.name().value(), DTYPE,
                    t.type().value(), strings(t.axes())), i + 1 < tensors.size() ? "," : "");
        }
        return b.unindent().unindent().add(")").build();
    }

    private static CodeBlock strings(List<Located<String>> values) {
        return CodeBlock.of("$T.of($L)", LIST, values.stream()
                .map(v -> CodeBlock.of("$S", v.value()))
                .collect(CodeBlock.joining(",$W")));
    }
}
