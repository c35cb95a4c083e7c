package dev.stepwise.processor;

import com.squareup.javapoet.CodeBlock;
import com.squareup.javapoet.FieldSpec;
import com.squareup.javapoet.MethodSpec;
import com.squareup.javapoet.TypeName;
import com.squareup.javapoet.TypeSpec;
import dev.stepwise.processor.OnnxConfigModel.ConfigKey;
import java.nio.file.Path;
import java.util.List;
import javax.lang.model.element.Modifier;

/**
 * Generates {@code XConfig}: the checkpoint's config.json read through X's {@code @ConfigKeys}, with typed getters
 * for the normalized values. Its {@code KEYS} constant is the one place the key map is spelled out; the exporter's
 * spec refers to it.
 */
final class ConfigGenerator {
    /** Normalized values with a typed getter, each delegating to the runtime's ModelConfig method of that name. */
    private static final List<String> GETTERS = List.of("numLayers", "numAttentionHeads", "numKeyValueHeads",
            "hiddenSize", "vocabSize", "headDim", "maxPositions");

    private final SourceWriter writer;

    ConfigGenerator(SourceWriter writer) {
        this.writer = writer;
    }

    /** For any kind of declaration: each has {@code @ConfigKeys}. */
    boolean generate(Declaration model, GeneratedNames names) {
        TypeSpec.Builder type = writer.mark(TypeSpec.classBuilder(names.config()))
                .addModifiers(Modifier.PUBLIC, Modifier.FINAL)
                .addJavadoc("The normalized config.json of {@link $T}, read through its {@code @ConfigKeys}.\n",
                        names.annotated())
                .addField(FieldSpec.builder(RuntimeTypes.CONFIG_KEY_MAP, "KEYS",
                                Modifier.PUBLIC, Modifier.STATIC, Modifier.FINAL)
                        .addJavadoc("Where $T finds each normalized value in config.json.\n", names.annotated())
                        .initializer(keyMap(model.config()))
                        .build())
                .addField(RuntimeTypes.MODEL_CONFIG, "config", Modifier.PRIVATE, Modifier.FINAL)
                .addMethod(MethodSpec.constructorBuilder()
                        .addModifiers(Modifier.PRIVATE)
                        .addParameter(RuntimeTypes.MODEL_CONFIG, "config")
                        .addStatement("this.config = config")
                        .build())
                .addMethod(MethodSpec.methodBuilder("read")
                        .addJavadoc("Reads {@code configJson}; fails naming the file and key when a value is missing.\n")
                        .addModifiers(Modifier.PUBLIC, Modifier.STATIC)
                        .returns(names.config())
                        .addParameter(Path.class, "configJson")
                        .addStatement("return new $T($T.read(configJson, KEYS))", names.config(),
                                RuntimeTypes.MODEL_CONFIG)
                        .build());
        for (String getter : GETTERS) {
            type.addMethod(MethodSpec.methodBuilder(getter)
                    .addModifiers(Modifier.PUBLIC)
                    .returns(TypeName.INT)
                    .addStatement("return config.$N()", getter)
                    .build());
        }
        type.addMethod(MethodSpec.methodBuilder("modelConfig")
                .addJavadoc("The whole config, for keys beyond the normalized ones.\n")
                .addModifiers(Modifier.PUBLIC)
                .returns(RuntimeTypes.MODEL_CONFIG)
                .addStatement("return config")
                .build());
        return writer.write(names.packageName(), type.build(), model.type());
    }

    /** {@code new ConfigKeyMap("n_layer", "n_head", ...)}, one key per line, named by its member. */
    private static CodeBlock keyMap(OnnxConfigModel.ConfigKeysModel config) {
        CodeBlock.Builder b = CodeBlock.builder().add("new $T(\n", RuntimeTypes.CONFIG_KEY_MAP).indent().indent();
        List<ConfigKey> keys = config.keys();
        for (int i = 0; i < keys.size(); i++) {
            ConfigKey k = keys.get(i);
            b.add("$S$L // $L\n", k.key().value(), i + 1 < keys.size() ? "," : "", k.member());
        }
        return b.unindent().unindent().add(")").build();
    }
}
