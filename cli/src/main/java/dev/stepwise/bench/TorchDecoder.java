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

/**
 * The PyTorch-engine reference decoder: the architecture's own forward run eagerly through {@link TorchOps}, with a
 * KV cache held as libtorch tensors (a step's presents are the next step's pasts, never copied to Java). Each step
 * runs in its own {@link TorchScope}, so its intermediates are freed when it ends and native memory stays flat; the
 * only read back to Java is the argmax of the last position, computed by libtorch.
 */
final class TorchDecoder implements GreedyDecoder {
    private final CausalLm model;
    private final ModelConfig config;
    private final CacheDecl cache;
    private final TorchOps ops;

    /** Weights are read from {@code weights} in place (memory-mapped F32 is not copied); it must stay open. */
    TorchDecoder(Architecture architecture, ModelConfig config, WeightSource weights) {
        this.model = architecture.newModel();
        this.config = config;
        this.cache = architecture.spec().cache();
        this.ops = new TorchOps(weights);
    }

    @Override
    public String name() {
        return "pytorch";
    }

    @Override
    public DecodeRun decode(long[][] prompts, int newTokens) {
        int batch = prompts.length;
        int promptLength = prompts[0].length;
        int layers = config.numLayers();
        long[][] tokens = new long[batch][newTokens];
        long[] decodeNanos = new long[newTokens - 1];
        long prefillNanos = 0;
        try (TorchScope run = ops.openScope()) {
            Tensor[] pastKeys = new Tensor[layers];
            Tensor[] pastValues = new Tensor[layers];
            long[] emptyShape = CacheShape.of(cache, config, batch, 0);
            for (int l = 0; l < layers; l++) {
                pastKeys[l] = ops.input(HostTensor.ofFloats(new float[0], emptyShape));
                pastValues[l] = ops.input(HostTensor.ofFloats(new float[0], emptyShape));
            }
            StepInputs in = StepInputs.prefill(prompts);
            for (int step = 0; step < newTokens; step++) {
                long started = System.nanoTime();
                KvCache kv = KvCache.withPast(layers);
                for (int l = 0; l < layers; l++) {
                    kv.setPast(l, pastKeys[l], pastValues[l]);
                }
                long[] next;
                try (TorchScope stepScope = ops.openScope()) {
                    next = step(in, kv);
                    for (int l = 0; l < layers; l++) {
                        stepScope.keep(kv.presentKey(l), kv.presentValue(l));
                    }
                }
                // The presents now hold the whole cache; the old pasts can go.
                ops.release(pastKeys);
                ops.release(pastValues);
                for (int l = 0; l < layers; l++) {
                    pastKeys[l] = kv.presentKey(l);
                    pastValues[l] = kv.presentValue(l);
                }
                long elapsed = System.nanoTime() - started;
                if (step == 0) {
                    prefillNanos = elapsed;
                } else {
                    decodeNanos[step - 1] = elapsed;
                }
                for (int b = 0; b < batch; b++) {
                    tokens[b][step] = next[b];
                }
                in = StepInputs.decode(next, promptLength + step);
            }
        }
        return new DecodeRun(tokens, prefillNanos, decodeNanos);
    }

    /** One forward; returns each row's greedy next token. */
    private long[] step(StepInputs in, KvCache kv) {
        DecoderInputs inputs = new DecoderInputs(
                ops.input(HostTensor.ofLongs(in.inputIds(), in.batch(), in.sequence())),
                ops.input(HostTensor.ofLongs(in.attentionMask(), in.batch(), in.total())),
                ops.input(HostTensor.ofLongs(in.positionIds(), in.batch(), in.sequence())));
        Tensor logits = model.forward(ops, config, inputs, kv);
        Tensor last = ops.slice(logits, 1, Dim.of(in.sequence() - 1L), Dim.of(in.sequence()));
        NDArray best = ((TorchTensor) last).array().argMax(-1); // owned by the step's scope
        return best.toLongArray();
    }

    @Override
    public void close() {
        ops.close();
    }
}
