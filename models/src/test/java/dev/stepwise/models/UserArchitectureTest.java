package dev.stepwise.models;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import dev.stepwise.annotations.ConfigKeys;
import dev.stepwise.annotations.DType;
import dev.stepwise.annotations.KeyValueCache;
import dev.stepwise.annotations.OnnxConfig;
import dev.stepwise.annotations.Task;
import dev.stepwise.annotations.TensorSpec;
import dev.stepwise.runtime.checkpoint.PlannedTensor;
import dev.stepwise.runtime.checkpoint.SafetensorsDtype;
import dev.stepwise.runtime.checkpoint.SafetensorsWriter;
import dev.stepwise.runtime.export.ExportOptions;
import dev.stepwise.runtime.export.ExportResult;
import dev.stepwise.runtime.export.Exporter;
import dev.stepwise.runtime.model.Architecture;
import dev.stepwise.runtime.model.Architectures;
import dev.stepwise.runtime.model.CausalLm;
import dev.stepwise.runtime.model.DecoderInputs;
import dev.stepwise.runtime.model.KvCache;
import dev.stepwise.runtime.model.ModelConfig;
import dev.stepwise.runtime.model.WeightSpec;
import dev.stepwise.runtime.model.layers.AttentionMask;
import dev.stepwise.runtime.ops.Dim;
import dev.stepwise.runtime.ops.Ops;
import dev.stepwise.runtime.ops.Tensor;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A user's own architecture, written the way a user outside the project would: one annotated class (here in the test
 * source set, compiled by the same processor), with its own {@code model_type}, its own config key names and weight
 * names. The runtime finds its generated exporter through {@code ServiceLoader}, exports a checkpoint this test writes
 * with {@link SafetensorsWriter}, and the export validates against the PyTorch-engine reference.
 */
public class UserArchitectureTest {

    /**
     * "Toy attention": learned positions, MLP-free pre-LayerNorm blocks with one fused q/k/v projection (nn.Linear
     * layout, no bias), an untied LM head. Its config calls layers "depth", heads "heads", width "width".
     */
    @OnnxConfig(modelType = "toy_attention", tasks = {Task.TEXT_GENERATION, Task.TEXT_GENERATION_WITH_PAST}, opset = 17,
            atol = 1e-5,
            config = @ConfigKeys(numLayers = "depth", numAttentionHeads = "heads", hiddenSize = "width",
                    vocabSize = "vocab", maxPositions = "context"),
            inputs = {
                @TensorSpec(name = "input_ids", type = DType.INT64, axes = {"batch_size", "sequence_length"}),
                @TensorSpec(name = "attention_mask", type = DType.INT64,
                        axes = {"batch_size", "past_sequence_length + sequence_length"}),
                @TensorSpec(name = "position_ids", type = DType.INT64, axes = {"batch_size", "sequence_length"})},
            cache = @KeyValueCache(past = "past_key_values.{layer}.{kind}", present = "present.{layer}.{kind}",
                    axes = {"batch_size", "num_key_value_heads", "past_sequence_length", "head_dim"}),
            outputs = @TensorSpec(name = "logits", type = DType.FLOAT,
                    axes = {"batch_size", "sequence_length", "vocab_size"}))
    public static final class ToyAttention implements CausalLm {
        @Override
        public Tensor forward(Ops ops, ModelConfig config, DecoderInputs in, KvCache cache) {
            Tensor x = ops.add(ops.gather(ops.weight("toy.embed.weight"), in.inputIds()),
                    ops.gather(ops.weight("toy.pos.weight"), in.positionIds()));
            Tensor mask = AttentionMask.causal(ops, in);
            int width = config.hiddenSize();
            Dim batch = ops.dim(x, 0);
            Dim sequence = ops.dim(x, 1);
            for (int layer = 0; layer < config.numLayers(); layer++) {
                String b = "toy.blocks." + layer + ".";
                Tensor h = ops.layerNorm(x, ops.weight(b + "norm.weight"), ops.weight(b + "norm.bias"), 1e-5f);
                Tensor qkv = ops.matmul(h, ops.weightTransposed(b + "qkv.weight"));
                Tensor q = heads(ops, config, ops.slice(qkv, -1, Dim.of(0), Dim.of(width)), batch, sequence);
                Tensor k = heads(ops, config, ops.slice(qkv, -1, Dim.of(width), Dim.of(2L * width)), batch, sequence);
                Tensor v = heads(ops, config, ops.slice(qkv, -1, Dim.of(2L * width), Dim.of(3L * width)), batch, sequence);
                if (cache.hasPast()) {
                    k = ops.concat(2, cache.pastKey(layer), k);
                    v = ops.concat(2, cache.pastValue(layer), v);
                }
                cache.setPresent(layer, k, v);
                Tensor scores = ops.div(ops.matmul(q, ops.transpose(k, 0, 1, 3, 2)),
                        ops.scalar((float) Math.sqrt(config.headDim())));
                Tensor context = ops.matmul(ops.softmax(AttentionMask.apply(ops, scores, mask), -1), v);
                context = ops.reshape(ops.transpose(context, 0, 2, 1, 3), batch, sequence, Dim.of(width));
                x = ops.add(x, ops.matmul(context, ops.weightTransposed(b + "proj.weight")));
            }
            x = ops.layerNorm(x, ops.weight("toy.norm.weight"), ops.weight("toy.norm.bias"), 1e-5f);
            return ops.matmulTransposedB(x, ops.weight("toy.head.weight"));
        }

        private static Tensor heads(Ops ops, ModelConfig config, Tensor x, Dim batch, Dim sequence) {
            return ops.transpose(ops.reshape(x, batch, sequence, Dim.of(config.numAttentionHeads()),
                    Dim.of(config.headDim())), 0, 2, 1, 3);
        }

        @Override
        public List<WeightSpec> expectedWeights(ModelConfig config) {
            return ToyCheckpoint.shapes(config.vocabSize(), config.maxPositions(), config.hiddenSize(), config.numLayers());
        }
    }

    /** The checkpoint a user would have: config.json in the toy's own key names, weights in safetensors. */
    static final class ToyCheckpoint {
        static final int VOCAB = 300;
        static final int CONTEXT = 64;
        static final int WIDTH = 32;
        static final int HEADS = 4;
        static final int DEPTH = 2;

        static List<WeightSpec> shapes(long vocab, long context, long width, int depth) {
            List<WeightSpec> w = new ArrayList<>();
            w.add(WeightSpec.required("toy.embed.weight", vocab, width));
            w.add(WeightSpec.required("toy.pos.weight", context, width));
            for (int i = 0; i < depth; i++) {
                String b = "toy.blocks." + i + ".";
                w.add(WeightSpec.required(b + "norm.weight", width));
                w.add(WeightSpec.required(b + "norm.bias", width));
                w.add(WeightSpec.required(b + "qkv.weight", 3 * width, width));
                w.add(WeightSpec.required(b + "proj.weight", width, width));
            }
            w.add(WeightSpec.required("toy.norm.weight", width));
            w.add(WeightSpec.required("toy.norm.bias", width));
            w.add(WeightSpec.required("toy.head.weight", vocab, width));
            return w;
        }

        static Path write(Path dir) throws IOException {
            Files.createDirectories(dir);
            JsonObject config = new JsonObject();
            config.addProperty("model_type", "toy_attention");
            config.addProperty("vocab", VOCAB);
            config.addProperty("context", CONTEXT);
            config.addProperty("width", WIDTH);
            config.addProperty("heads", HEADS);
            config.addProperty("depth", DEPTH);
            config.addProperty("eos_token_id", VOCAB - 1);
            Files.writeString(dir.resolve("config.json"), config.toString(), StandardCharsets.UTF_8);

            List<WeightSpec> specs = shapes(VOCAB, CONTEXT, WIDTH, DEPTH);
            List<PlannedTensor> plan = new ArrayList<>();
            for (WeightSpec s : specs) {
                plan.add(new PlannedTensor(s.name(), SafetensorsDtype.F32, s.shape()));
            }
            Random random = new Random(42);
            try (SafetensorsWriter writer = SafetensorsWriter.create(dir.resolve("model.safetensors"), plan)) {
                for (WeightSpec s : specs) {
                    long n = 1;
                    for (long d : s.shape()) {
                        n *= d;
                    }
                    float[] values = new float[(int) n];
                    boolean scale = s.name().endsWith("norm.weight");
                    double std = s.shape().length == 2 ? 1.0 / Math.sqrt(s.shape()[1]) : 0.1;
                    for (int i = 0; i < values.length; i++) {
                        values[i] = (float) ((scale ? 1 : 0) + std * random.nextGaussian());
                    }
                    writer.write(s.name(), values);
                }
            }
            return dir;
        }
    }

    @TempDir
    static Path tmp;
    static Path checkpoint;

    @BeforeAll
    static void writeCheckpoint() throws IOException {
        checkpoint = ToyCheckpoint.write(tmp.resolve("toy"));
    }

    @Test
    void serviceLoaderFindsTheGeneratedExporter() {
        Architecture toy = Architectures.forModelType("toy_attention", "test");
        assertInstanceOf(UserArchitectureTest_ToyAttentionExporter.class, toy);
        assertInstanceOf(ToyAttention.class, toy.newModel());
        assertEquals(17, toy.spec().opset());
        assertEquals(1e-5, toy.spec().atol());
        // The built-in architectures are found the same way, side by side with the user's.
        assertTrue(Architectures.all().keySet().containsAll(List.of("gpt2", "gpt_neo", "opt", "biogpt", "toy_attention")),
                Architectures.all().keySet().toString());
        // The generated config reads the toy's own key names as the normalized values.
        UserArchitectureTest_ToyAttentionConfig config = UserArchitectureTest_ToyAttentionExporter.config(checkpoint);
        assertEquals(List.of(ToyCheckpoint.DEPTH, ToyCheckpoint.HEADS, ToyCheckpoint.WIDTH, ToyCheckpoint.VOCAB,
                ToyCheckpoint.WIDTH / ToyCheckpoint.HEADS), List.of(config.numLayers(), config.numAttentionHeads(),
                config.hiddenSize(), config.vocabSize(), config.headDim()));
    }

    /** The generic entry point picks the exporter from config.json's model_type, as the CLI does. */
    @Test
    void exportsByModelTypeAndValidates() {
        ExportResult result = Exporter.export(checkpoint, tmp.resolve("toy-onnx"), ExportOptions.defaults());
        ExportChecks.assertValidated("toy_attention", result, 3);
        List<long[]> prompts = List.of(new long[] {3, 14, 15, 92, 65, 35}, new long[] {89, 79}, new long[] {32, 38, 46, 26});
        ExportChecks.assertPaddedBatchGivesEachRowsOwnTokens(result.outputDir(), prompts, 8);
    }

    @Test
    void generatedExporterRunsWithoutPast() {
        ExportResult result = UserArchitectureTest_ToyAttentionExporter.run(checkpoint, tmp.resolve("toy-plain"),
                ExportOptions.defaults().withTask(Task.TEXT_GENERATION));
        ExportChecks.assertValidated("toy_attention text-generation", result, 2);
    }
}
