package dev.stepwise.bench;

import ai.djl.ndarray.NDArray;
import dev.stepwise.reference.TorchOps;
import dev.stepwise.reference.TorchScope;
import dev.stepwise.reference.TorchTensor;
import dev.stepwise.runtime.checkpoint.WeightSource;
import dev.stepwise.runtime.model.Architecture;
import dev.stepwise.runtime.model.CacheDecl;
import dev.stepwise.runtime.model.CausalLm;
import dev.stepwise.runtime.model.DecoderInputs;
import dev.stepwise.runtime.model.KvCache;
import dev.stepwise.runtime.model.ModelConfig;
import dev.stepwise.runtime.ops.Dim;
import dev.stepwise.runtime.ops.Tensor;
import dev.stepwise.runtime.tensor.HostTensor;
import java.util.Arrays;

/**
 * The benchmark's PyTorch-engine reference: the architecture's forward run eagerly on libtorch through
 * {@link TorchOps}, greedy, with the KV cache kept as libtorch tensors from step to step. Every step runs in its
 * own {@link TorchScope}, which frees the step's intermediates; only the argmax ids come back to Java.
 * Prompts are unpadded rows of one length.
 */
final class TorchGreedy implements AutoCloseable {
    private final CausalLm model;
    private final ModelConfig config;
    private final CacheDecl cache;
    private final TorchOps ops;

    TorchGreedy(Architecture architecture, ModelConfig config, WeightSource weights) {
        this.model = architecture.newModel();
        this.config = config;
        this.cache = architecture.spec().cache();
        this.ops = new TorchOps(weights);
    }

    /** {@code [batch][newTokens]} greedy ids. */
    long[][] generate(long[][] prompts, int newTokens) {
        int batch = prompts.length;
        int length = prompts[0].length;
        int layers = config.numLayers();
        long[][] out = new long[batch][newTokens];
        try (TorchScope whole = ops.openScope()) {
            Tensor[] keys = new Tensor[layers];
            Tensor[] values = new Tensor[layers];
            long[] empty = {batch, config.numKeyValueHeads(), 0, config.headDim()};
            for (int l = 0; l < layers; l++) {
                keys[l] = ops.input(HostTensor.ofFloats(new float[0], empty));
                values[l] = ops.input(HostTensor.ofFloats(new float[0], empty));
            }
            long[] ids = new long[batch * length];
            long[] positions = new long[batch * length];
            for (int b = 0; b < batch; b++) {
                System.arraycopy(prompts[b], 0, ids, b * length, length);
                for (int t = 0; t < length; t++) {
                    positions[b * length + t] = t;
                }
            }
            int stepLength = length;
            for (int step = 0; step < newTokens; step++) {
                int total = length + step;
                long[] mask = new long[batch * total];
                Arrays.fill(mask, 1);
                KvCache kv = KvCache.withPast(layers);
                for (int l = 0; l < layers; l++) {
                    kv.setPast(l, keys[l], values[l]);
                }
                long[] next;
                try (TorchScope scope = ops.openScope()) {
                    DecoderInputs in = new DecoderInputs(ops.input(HostTensor.ofLongs(ids, batch, stepLength)),
                            ops.input(HostTensor.ofLongs(mask, batch, total)),
                            ops.input(HostTensor.ofLongs(positions, batch, stepLength)));
                    Tensor logits = model.forward(ops, config, in, kv);
                    Tensor last = ops.slice(logits, 1, Dim.of(stepLength - 1L), Dim.of(stepLength));
                    NDArray best = ((TorchTensor) last).array().argMax(-1); // freed with the scope
                    next = best.toLongArray();
                    for (int l = 0; l < layers; l++) {
                        scope.keep(kv.presentKey(l), kv.presentValue(l));
                    }
                }
                ops.release(keys);
                ops.release(values);
                for (int l = 0; l < layers; l++) {
                    keys[l] = kv.presentKey(l);
                    values[l] = kv.presentValue(l);
                }
                for (int b = 0; b < batch; b++) {
                    out[b][step] = next[b];
                }
                ids = next;
                stepLength = 1;
                positions = new long[batch];
                Arrays.fill(positions, total);
            }
        }
        return out;
    }

    @Override
    public void close() {
        ops.close();
    }
}
