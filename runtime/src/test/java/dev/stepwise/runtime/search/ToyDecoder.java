package dev.stepwise.runtime.search;

import com.google.gson.JsonObject;
import dev.stepwise.annotations.DType;
import dev.stepwise.annotations.Task;
import dev.stepwise.runtime.checkpoint.MapWeightSource;
import dev.stepwise.runtime.export.DummyInputs;
import dev.stepwise.runtime.model.Architecture;
import dev.stepwise.runtime.model.ArchitectureSpec;
import dev.stepwise.runtime.model.CacheDecl;
import dev.stepwise.runtime.model.CausalLm;
import dev.stepwise.runtime.model.ConfigKeyMap;
import dev.stepwise.runtime.model.DecoderInputs;
import dev.stepwise.runtime.model.KvCache;
import dev.stepwise.runtime.model.ModelConfig;
import dev.stepwise.runtime.model.TensorDecl;
import dev.stepwise.runtime.model.WeightSpec;
import dev.stepwise.runtime.model.layers.AttentionMask;
import dev.stepwise.runtime.ops.Dim;
import dev.stepwise.runtime.ops.Ops;
import dev.stepwise.runtime.ops.Tensor;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;

/**
 * A small attention decoder for testing the search adapter without the models module: learned positions, grouped
 * query attention (key/value heads repeated for the scores), a tied LM head. With {@code sequenceMajor} its cache is
 * declared {@code [batch, past, kv_heads, head_dim]} instead of the usual {@code [batch, kv_heads, past, head_dim]}.
 */
final class ToyDecoder implements Architecture {
    static final int LAYERS = 2;
    static final int HEADS = 4;
    static final int HEAD_DIM = 4;
    static final int EMBED = HEADS * HEAD_DIM;
    static final int VOCAB = 40;
    static final int POSITIONS = 64;
    static final long EOS = 3;
    static final long PAD = 0;

    private final int kvHeads;
    private final boolean sequenceMajor;

    ToyDecoder(int kvHeads, boolean sequenceMajor) {
        this.kvHeads = kvHeads;
        this.sequenceMajor = sequenceMajor;
    }

    static final ConfigKeyMap KEYS = new ConfigKeyMap("n_layer", "n_head", "n_kv", "n_embd", "vocab_size",
            "n_positions", "eos_token_id", "", "pad_token_id");

    ModelConfig config() {
        JsonObject json = new JsonObject();
        json.addProperty("model_type", "toy");
        json.addProperty("n_layer", LAYERS);
        json.addProperty("n_head", HEADS);
        json.addProperty("n_kv", kvHeads);
        json.addProperty("n_embd", EMBED);
        json.addProperty("vocab_size", VOCAB);
        json.addProperty("n_positions", POSITIONS);
        json.addProperty("eos_token_id", EOS);
        json.addProperty("pad_token_id", PAD);
        return ModelConfig.of(Path.of("toy/config.json"), json, KEYS);
    }

    MapWeightSource weights(long seed) {
        Random random = new Random(seed);
        MapWeightSource w = new MapWeightSource();
        w.put("wte", gaussian(random, VOCAB * EMBED), VOCAB, EMBED);
        w.put("wpe", gaussian(random, POSITIONS * EMBED), POSITIONS, EMBED);
        for (int l = 0; l < LAYERS; l++) {
            w.put(l + ".q", gaussian(random, EMBED * EMBED), EMBED, EMBED);
            w.put(l + ".k", gaussian(random, EMBED * kvHeads * HEAD_DIM), EMBED, (long) kvHeads * HEAD_DIM);
            w.put(l + ".v", gaussian(random, EMBED * kvHeads * HEAD_DIM), EMBED, (long) kvHeads * HEAD_DIM);
        }
        return w;
    }

    private static float[] gaussian(Random random, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) random.nextGaussian() * 0.5f;
        }
        return a;
    }

    @Override
    public ArchitectureSpec spec() {
        List<String> cacheAxes = sequenceMajor
                ? List.of("batch_size", CacheDecl.PAST_SEQUENCE, "num_key_value_heads", "head_dim")
                : List.of("batch_size", "num_key_value_heads", CacheDecl.PAST_SEQUENCE, "head_dim");
        return new ArchitectureSpec("toy", List.of(Task.TEXT_GENERATION, Task.TEXT_GENERATION_WITH_PAST), 14, 1e-4,
                KEYS,
                List.of(new TensorDecl("input_ids", DType.INT64, List.of("batch_size", "sequence_length")),
                        new TensorDecl("attention_mask", DType.INT64, List.of("batch_size", CacheDecl.TOTAL_SEQUENCE)),
                        new TensorDecl("position_ids", DType.INT64, List.of("batch_size", "sequence_length"))),
                new CacheDecl("past.{layer}.{kind}", "present.{layer}.{kind}", DType.FLOAT, cacheAxes),
                List.of(new TensorDecl("logits", DType.FLOAT, List.of("batch_size", "sequence_length", "vocab_size"))));
    }

    @Override
    public CausalLm newModel() {
        return new CausalLm() {
            @Override
            public Tensor forward(Ops ops, ModelConfig config, DecoderInputs in, KvCache cache) {
                Tensor hidden = ops.add(ops.gather(ops.weight("wte"), in.inputIds()),
                        ops.gather(ops.weight("wpe"), in.positionIds()));
                Tensor mask = AttentionMask.causal(ops, in);
                Dim batch = ops.dim(hidden, 0);
                Dim sequence = ops.dim(hidden, 1);
                for (int l = 0; l < LAYERS; l++) {
                    Tensor q = ops.transpose(ops.reshape(ops.matmul(hidden, ops.weight(l + ".q")), batch, sequence,
                            Dim.of(HEADS), Dim.of(HEAD_DIM)), 0, 2, 1, 3);
                    Tensor k = ops.reshape(ops.matmul(hidden, ops.weight(l + ".k")), batch, sequence,
                            Dim.of(kvHeads), Dim.of(HEAD_DIM));
                    Tensor v = ops.reshape(ops.matmul(hidden, ops.weight(l + ".v")), batch, sequence,
                            Dim.of(kvHeads), Dim.of(HEAD_DIM));
                    if (sequenceMajor) {                         // cache [B, T, KV, D]
                        k = ops.concat(1, cache.pastKey(l), k);
                        v = ops.concat(1, cache.pastValue(l), v);
                        cache.setPresent(l, k, v);
                        k = ops.transpose(k, 0, 2, 1, 3);
                        v = ops.transpose(v, 0, 2, 1, 3);
                    } else {                                     // cache [B, KV, T, D]
                        k = ops.concat(2, cache.pastKey(l), ops.transpose(k, 0, 2, 1, 3));
                        v = ops.concat(2, cache.pastValue(l), ops.transpose(v, 0, 2, 1, 3));
                        cache.setPresent(l, k, v);
                    }
                    k = repeatHeads(ops, k, batch);
                    v = repeatHeads(ops, v, batch);
                    Tensor scores = ops.div(ops.matmul(q, ops.transpose(k, 0, 1, 3, 2)),
                            ops.scalar((float) Math.sqrt(HEAD_DIM)));
                    Tensor probs = ops.softmax(AttentionMask.apply(ops, scores, mask), -1);
                    Tensor context = ops.reshape(ops.transpose(ops.matmul(probs, v), 0, 2, 1, 3), batch, sequence,
                            Dim.of(EMBED));
                    hidden = ops.add(hidden, context);
                }
                return ops.matmulTransposedB(hidden, ops.weight("wte"));
            }

            /** {@code [B, KV, T, D]} → {@code [B, H, T, D]}, each key/value head serving H / KV query heads. */
            private Tensor repeatHeads(Ops ops, Tensor x, Dim batch) {
                int group = HEADS / kvHeads;
                if (group == 1) {
                    return x;
                }
                Tensor one = ops.unsqueeze(x, 2);
                Tensor[] copies = new Tensor[group];
                java.util.Arrays.fill(copies, one);
                return ops.reshape(ops.concat(2, copies), batch, Dim.of(HEADS), ops.dim(x, 2), Dim.of(HEAD_DIM));
            }

            @Override
            public List<WeightSpec> expectedWeights(ModelConfig config) {
                return List.of();
            }
        };
    }

    @Override
    public DummyInputs dummyInputs(ModelConfig config, int batch, int sequence, int past, long seed) {
        throw new UnsupportedOperationException("the toy decoder has no dummy inputs");
    }
}
