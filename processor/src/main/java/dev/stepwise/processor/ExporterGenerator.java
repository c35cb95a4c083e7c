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
import java.util.Map;
import javax.lang.model.element.Modifier;

/**
 * Generates {@code XExporter}, the service the runtime finds through {@code ServiceLoader} for X's kind of
 * declaration ({@code @OnnxConfig}, {@code @EncoderConfig} or {@code @Seq2SeqConfig}): the spec spelled out literally
 * from the annotation (so the runtime never reflects on annotations), a factory for X, its dummy inputs (decoders and
 * encoders), and static {@code run(...)} and {@code config(...)} entry points. The kinds differ only in their runtime
 * types, the spec's values and the default options; the class around them is written once.
 */
final class ExporterGenerator {
    private static final ClassName LIST = ClassName.get(List.class);
    private static final ClassName MAP = ClassName.get(Map.class);
    private static final ClassName TASK = ClassName.get(Task.class);
    private static final ClassName DTYPE = ClassName.get(DType.class);

    /** The runtime types one kind of exporter refers to; {@code note} qualifies the model type in the javadoc. */
    private record Kind(ClassName service, ClassName spec, ClassName model, ClassName exporter, String note) {
    }

    private static final Kind DECODER = new Kind(RuntimeTypes.ARCHITECTURE, RuntimeTypes.ARCHITECTURE_SPEC,
            RuntimeTypes.CAUSAL_LM, RuntimeTypes.EXPORTER, "");
    private static final Kind ENCODER = new Kind(RuntimeTypes.ENCODER_ARCHITECTURE, RuntimeTypes.ENCODER_SPEC,
            RuntimeTypes.ENCODER_MODEL, RuntimeTypes.ENCODER_EXPORTER, ", encoder-only");
    private static final Kind SEQ2SEQ = new Kind(RuntimeTypes.SEQ2SEQ_ARCHITECTURE, RuntimeTypes.SEQ2SEQ_SPEC,
            RuntimeTypes.SEQ2SEQ_LM, RuntimeTypes.SEQ2SEQ_EXPORTER, ", encoder-decoder");

    private final SourceWriter writer;

    ExporterGenerator(SourceWriter writer) {
        this.writer = writer;
    }

    /** A decoder's exporter; it exports the KV-cache decoder by default, or the first task without one. */
    boolean generate(OnnxConfigModel model, GeneratedNames names) {
        CacheModel cache = model.cache();
        CodeBlock spec = specStart(DECODER, model.modelType())
                .add("$L,\n", tasks(model.tasks()))
                .add(scalars(model.opset(), model.atol(), names))
                .add("$L,\n", tensors(model.inputs()))
                .add("$L,\n", cache(cache))
                .add("$L)", tensors(model.outputs()))
                .unindent().unindent()
                .build();
        Task task = model.supports(Task.TEXT_GENERATION_WITH_PAST) ? Task.TEXT_GENERATION_WITH_PAST
                : model.tasks().get(0).value();
        CodeBlock options = task == Task.TEXT_GENERATION_WITH_PAST
                ? CodeBlock.of("$T.defaults()", RuntimeTypes.EXPORT_OPTIONS)
                : CodeBlock.of("$T.defaults().withTask($T.$L)", RuntimeTypes.EXPORT_OPTIONS, TASK, task);
        TypeSpec.Builder type = exporterClass(DECODER, names, model.modelType(), spec)
                .addMethod(dummyInputs(names, true));
        addEntryPoints(type, DECODER, names, "Exports with the default options (task {@code " + task.cliName()
                + "}).\n", options);
        return writer.write(names.packageName(), type.build(), model.type());
    }

    /** An encoder's exporter: outputs keyed by task; the task then comes from config.json's architectures. */
    boolean generate(EncoderConfigModel model, GeneratedNames names) {
        CodeBlock outputs = model.encoder().outputs().stream()
                .map(o -> CodeBlock.of("$T.$L, $L", TASK, o.task().value(), tensor(o.tensor())))
                .collect(CodeBlock.joining(",\n"));
        CodeBlock spec = specStart(ENCODER, model.modelType())
                .add("$L,\n", tasks(model.tasks()))
                .add(scalars(model.opset(), model.atol(), names))
                .add("$L,\n", tensors(model.encoder().inputs()))
                .add("$T.of(\n$L))", MAP, outputs)
                .unindent().unindent()
                .build();
        TypeSpec.Builder type = exporterClass(ENCODER, names, model.modelType(), spec)
                .addMethod(dummyInputs(names, false));
        addEntryPoints(type, ENCODER, names, "Exports with the default options; the task follows config.json's"
                + " architectures.\n", CodeBlock.of("$T.defaults()", RuntimeTypes.EXPORT_OPTIONS));
        return writer.write(names.packageName(), type.build(), model.type());
    }

    /** An encoder-decoder's exporter, writing optimum's three-file set. */
    boolean generate(Seq2SeqConfigModel model, GeneratedNames names) {
        CodeBlock spec = specStart(SEQ2SEQ, model.modelType())
                .add(scalars(model.opset(), model.atol(), names))
                .add("$L,\n", tensors(model.encoder().inputs()))
                .add("$L,\n", tensor(model.encoder().outputs().get(0).tensor()))
                .add("$L,\n", tensors(model.decoder().inputs()))
                .add("$L,\n", cache(model.decoder().selfCache()))
                .add("$L,\n", cache(model.decoder().crossCache()))
                .add("$L)", tensor(model.decoder().outputs().get(0)))
                .unindent().unindent()
                .build();
        TypeSpec.Builder type = exporterClass(SEQ2SEQ, names, model.modelType(), spec);
        addEntryPoints(type, SEQ2SEQ, names, "Exports optimum's encoder/decoder/decoder-with-past set with the"
                + " default options.\n", CodeBlock.of("$T.defaults()", RuntimeTypes.EXPORT_OPTIONS));
        return writer.write(names.packageName(), type.build(), model.type());
    }

    // ---- the class around the spec ----

    /** The class, its spec constant, the constructor for {@code ServiceLoader}, {@code spec()}, {@code newModel()}. */
    private TypeSpec.Builder exporterClass(Kind kind, GeneratedNames names, Located<String> modelType,
                                           CodeBlock spec) {
        return writer.mark(TypeSpec.classBuilder(names.exporter()))
                .addModifiers(Modifier.PUBLIC, Modifier.FINAL)
                .addSuperinterface(kind.service())
                .addJavadoc("Exports {@link $T} checkpoints (model_type {@code $L}$L) to ONNX.\n", names.annotated(),
                        modelType.value(), kind.note())
                .addField(FieldSpec.builder(kind.spec(), "SPEC", Modifier.PRIVATE, Modifier.STATIC, Modifier.FINAL)
                        .initializer(spec)
                        .build())
                .addMethod(MethodSpec.constructorBuilder()
                        .addJavadoc("For {@code ServiceLoader}.\n")
                        .addModifiers(Modifier.PUBLIC)
                        .build())
                .addMethod(override("spec", kind.spec()).addStatement("return SPEC").build())
                .addMethod(override("newModel", kind.model())
                        .addStatement("return new $T()", names.annotated())
                        .build());
    }

    /** {@code dummyInputs(...)}, delegating to the generated {@code XDummyInputs.create} of the same parameters. */
    private static MethodSpec dummyInputs(GeneratedNames names, boolean withPast) {
        return DummyInputsGenerator.parameters(override("dummyInputs", RuntimeTypes.DUMMY_INPUTS), withPast)
                .addStatement("return $T.create($L)", names.dummyInputs(), DummyInputsGenerator.arguments(withPast))
                .build();
    }

    /** {@code run(checkpointDir, outputDir)} with {@code defaults}, {@code run(..., options)}, {@code config(dir)}. */
    private static void addEntryPoints(TypeSpec.Builder type, Kind kind, GeneratedNames names, String runJavadoc,
                                       CodeBlock defaults) {
        type.addMethod(MethodSpec.methodBuilder("run")
                        .addJavadoc(runJavadoc)
                        .addModifiers(Modifier.PUBLIC, Modifier.STATIC)
                        .returns(RuntimeTypes.EXPORT_RESULT)
                        .addParameter(Path.class, "checkpointDir")
                        .addParameter(Path.class, "outputDir")
                        .addStatement("return run(checkpointDir, outputDir, $L)", defaults)
                        .build())
                .addMethod(MethodSpec.methodBuilder("run")
                        .addModifiers(Modifier.PUBLIC, Modifier.STATIC)
                        .returns(RuntimeTypes.EXPORT_RESULT)
                        .addParameter(Path.class, "checkpointDir")
                        .addParameter(Path.class, "outputDir")
                        .addParameter(RuntimeTypes.EXPORT_OPTIONS, "options")
                        .addStatement("return $T.export(new $T(), checkpointDir, outputDir, options)",
                                kind.exporter(), names.exporter())
                        .build())
                .addMethod(MethodSpec.methodBuilder("config")
                        .addJavadoc("The checkpoint's config.json, normalized.\n")
                        .addModifiers(Modifier.PUBLIC, Modifier.STATIC)
                        .returns(names.config())
                        .addParameter(Path.class, "checkpointDir")
                        .addStatement("return $T.read(checkpointDir.resolve($S))", names.config(), "config.json")
                        .build());
    }

    private static MethodSpec.Builder override(String name, TypeName returns) {
        return MethodSpec.methodBuilder(name).addAnnotation(Override.class).addModifiers(Modifier.PUBLIC)
                .returns(returns);
    }

    // ---- the spec's values, written out ----

    /** {@code new XSpec(} and the model type; the caller adds the rest and closes it. */
    private static CodeBlock.Builder specStart(Kind kind, Located<String> modelType) {
        return CodeBlock.builder().add("new $T(\n", kind.spec()).indent().indent().add("$S,\n", modelType.value());
    }

    /** Opset, tolerance and the generated config's key map, which every spec has in this order. */
    private static CodeBlock scalars(Located<Integer> opset, Located<Double> atol, GeneratedNames names) {
        return CodeBlock.of("$L,\n$L,\n$T.KEYS,\n", opset.value(), Double.toString(atol.value()), names.config());
    }

    private static CodeBlock tasks(List<Located<Task>> tasks) {
        return CodeBlock.of("$T.of($L)", LIST, tasks.stream()
                .map(t -> CodeBlock.of("$T.$L", TASK, t.value()))
                .collect(CodeBlock.joining(",$W")));
    }

    /** {@code List.of(new TensorDecl(...), ...)}, one tensor per line. */
    private static CodeBlock tensors(List<TensorModel> tensors) {
        CodeBlock.Builder b = CodeBlock.builder().add("$T.of(", LIST).indent().indent();
        for (int i = 0; i < tensors.size(); i++) {
            b.add("\n$L$L", tensor(tensors.get(i)), i + 1 < tensors.size() ? "," : "");
        }
        return b.unindent().unindent().add(")").build();
    }

    private static CodeBlock tensor(TensorModel t) {
        return CodeBlock.of("new $T($S,$W$T.$L,$W$L)", RuntimeTypes.TENSOR_DECL, t.name().value(), DTYPE,
                t.type().value(), strings(t.axes()));
    }

    private static CodeBlock cache(CacheModel c) {
        return CodeBlock.of("new $T($S,$W$S,$W$T.$L,$W$L)", RuntimeTypes.CACHE_DECL, c.past().value(),
                c.present().value(), DTYPE, c.type().value(), strings(c.axes()));
    }

    private static CodeBlock strings(List<Located<String>> values) {
        return CodeBlock.of("$T.of($L)", LIST, values.stream()
                .map(v -> CodeBlock.of("$S", v.value()))
                .collect(CodeBlock.joining(",$W")));
    }
}
