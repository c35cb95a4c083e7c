package dev.stepwise.processor;

import com.squareup.javapoet.ClassName;
import com.squareup.javapoet.CodeBlock;
import com.squareup.javapoet.FieldSpec;
import com.squareup.javapoet.MethodSpec;
import com.squareup.javapoet.TypeSpec;
import dev.stepwise.annotations.DType;
import dev.stepwise.processor.OnnxConfigModel.CacheModel;
import dev.stepwise.processor.OnnxConfigModel.TensorModel;
import java.nio.file.Path;
import java.util.List;
import javax.lang.model.element.Modifier;

/**
 * Generates {@code XExporter} for a {@code @Seq2SeqConfig} class: the {@code Seq2SeqArchitecture} the runtime finds
 * through {@code ServiceLoader}, its spec spelled out literally, a factory for X and static {@code run(...)} entry
 * points writing optimum's three-file set.
 */
final class Seq2SeqExporterGenerator {
    private static final ClassName LIST = ClassName.get(List.class);
    private static final ClassName DTYPE = ClassName.get(DType.class);

    private final SourceWriter writer;

    Seq2SeqExporterGenerator(SourceWriter writer) {
        this.writer = writer;
    }

    boolean generate(Seq2SeqConfigModel model, GeneratedNames names) {
        ClassName self = names.exporter();
        TypeSpec type = writer.mark(TypeSpec.classBuilder(self))
                .addModifiers(Modifier.PUBLIC, Modifier.FINAL)
                .addSuperinterface(RuntimeTypes.SEQ2SEQ_ARCHITECTURE)
                .addJavadoc("Exports {@link $T} checkpoints (model_type {@code $L}, encoder-decoder) to ONNX.\n",
                        names.annotated(), model.modelType().value())
                .addField(FieldSpec.builder(RuntimeTypes.SEQ2SEQ_SPEC, "SPEC",
                                Modifier.PRIVATE, Modifier.STATIC, Modifier.FINAL)
                        .initializer(spec(model, names))
                        .build())
                .addMethod(MethodSpec.constructorBuilder()
                        .addJavadoc("For {@code ServiceLoader}.\n")
                        .addModifiers(Modifier.PUBLIC)
                        .build())
                .addMethod(MethodSpec.methodBuilder("spec").addAnnotation(Override.class).addModifiers(Modifier.PUBLIC)
                        .returns(RuntimeTypes.SEQ2SEQ_SPEC).addStatement("return SPEC").build())
                .addMethod(MethodSpec.methodBuilder("newModel").addAnnotation(Override.class)
                        .addModifiers(Modifier.PUBLIC).returns(RuntimeTypes.SEQ2SEQ_LM)
                        .addStatement("return new $T()", names.annotated())
                        .build())
                .addMethod(MethodSpec.methodBuilder("run")
                        .addJavadoc("Exports optimum's encoder/decoder/decoder-with-past set with the default options.\n")
                        .addModifiers(Modifier.PUBLIC, Modifier.STATIC)
                        .returns(RuntimeTypes.EXPORT_RESULT)
                        .addParameter(Path.class, "checkpointDir")
                        .addParameter(Path.class, "outputDir")
                        .addStatement("return $T.export(new $T(), checkpointDir, outputDir, $T.defaults())",
                                RuntimeTypes.SEQ2SEQ_EXPORTER, self, RuntimeTypes.EXPORT_OPTIONS)
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

    private static CodeBlock spec(Seq2SeqConfigModel model, GeneratedNames names) {
        return CodeBlock.builder()
                .add("new $T(\n", RuntimeTypes.SEQ2SEQ_SPEC).indent().indent()
                .add("$S,\n", model.modelType().value())
                .add("$L,\n", model.opset().value())
                .add("$L,\n", Double.toString(model.atol().value()))
                .add("$T.KEYS,\n", names.config())
                .add("$T.of($L),\n", LIST, model.encoder().inputs().stream()
                        .map(Seq2SeqExporterGenerator::tensor).collect(CodeBlock.joining(",\n")))
                .add("$L,\n", tensor(model.encoder().outputs().get(0).tensor()))
                .add("$T.of($L),\n", LIST, model.decoder().inputs().stream()
                        .map(Seq2SeqExporterGenerator::tensor).collect(CodeBlock.joining(",\n")))
                .add("$L,\n", cache(model.decoder().selfCache()))
                .add("$L,\n", cache(model.decoder().crossCache()))
                .add("$L)", tensor(model.decoder().outputs().get(0)))
                .unindent().unindent()
                .build();
    }

    private static CodeBlock tensor(TensorModel t) {
        return CodeBlock.of("new $T($S,$W$T.$L,$W$T.of($L))", RuntimeTypes.TENSOR_DECL, t.name().value(), DTYPE,
                t.type().value(), LIST, axes(t.axes()));
    }

    private static CodeBlock cache(CacheModel c) {
        return CodeBlock.of("new $T($S,$W$S,$W$T.$L,$W$T.of($L))", RuntimeTypes.CACHE_DECL, c.past().value(),
                c.present().value(), DTYPE, c.type().value(), LIST, axes(c.axes()));
    }

    private static CodeBlock axes(List<Located<String>> axes) {
        return axes.stream().map(a -> CodeBlock.of("$S", a.value())).collect(CodeBlock.joining(",$W"));
    }
}
