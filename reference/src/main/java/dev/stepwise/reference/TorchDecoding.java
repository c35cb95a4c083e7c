package dev.stepwise.reference;

import dev.stepwise.runtime.checkpoint.WeightSource;
import dev.stepwise.runtime.generate.DecoderStep;
import dev.stepwise.runtime.generate.KvDecoding;
import dev.stepwise.runtime.generate.SourceLimits;
import dev.stepwise.runtime.generate.StepIds;
import dev.stepwise.runtime.generate.StepModel;
import dev.stepwise.runtime.generate.StepModelSource;
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
import java.util.List;
import java.util.Set;

/**
 * The PyTorch-engine reference as a decoder the {@link dev.stepwise.runtime.generate.Generator} drives: the
 * architecture's own forward run eagerly through {@link TorchOps}, with the KV cache held as libtorch tensors (a
 * step's presents are the next step's pasts, never copied to Java). Each step runs in its own {@link TorchScope}, so
 * its intermediates are freed when it ends and native memory stays flat; only the last position's logits come back
 * to Java. It knows no eos id (a reference run decodes every row to the requested length) and pads with id 0.
 *
 * <p>Not thread-safe: one generation at a time (the scopes of one {@link TorchOps} nest).
 */
public final class TorchDecoding implements StepModelSource, AutoCloseable {
    private final CausalLm model;
    private final ModelConfig config;
    private final CacheDecl cache;
    private final TorchOps ops;

    /** Weights are read from {@code weights} in place (memory-mapped F32 is not copied); it must stay open. */
    public TorchDecoding(Architecture architecture, ModelConfig config, WeightSource weights) {
        this.model = architecture.newModel();
        this.config = config;
        this.cache = architecture.spec().cache();
        this.ops = new TorchOps(weights);
    }

    @Override
    public StepModel start(List<long[]> rows, long pad, boolean reorderable) {
        int longest = rows.stream().mapToInt(p -> p.length).max().orElse(0);
        return KvDecoding.start(new Run(rows.size()), rows, longest, pad);
    }

    /** No eos id, pad id 0; the config's vocabulary and positions. */
    @Override
    public SourceLimits limits() {
        return SourceLimits.of(Set.of(), 0, config);
    }

    @Override
    public void close() {
        ops.close();
    }

    /** One generation's cache: libtorch tensors in a scope that lives as long as the generation. */
    private final class Run implements DecoderStep {
        private final TorchScope whole = ops.openScope();
        private final Tensor[] keys = new Tensor[config.numLayers()];
        private final Tensor[] values = new Tensor[config.numLayers()];

        Run(int rows) {
            long[] empty = cache.shape(config, rows, 0);
            for (int l = 0; l < keys.length; l++) {
                keys[l] = ops.input(HostTensor.ofFloats(new float[0], empty));
                values[l] = ops.input(HostTensor.ofFloats(new float[0], empty));
            }
        }

        @Override
        public float[][] run(StepIds in) {
            int layers = keys.length;
            KvCache kv = KvCache.withPast(layers);
            for (int l = 0; l < layers; l++) {
                kv.setPast(l, keys[l], values[l]);
            }
            HostTensor last;
            try (TorchScope step = ops.openScope()) {
                DecoderInputs inputs = new DecoderInputs(
                        ops.input(HostTensor.ofLongs(in.inputIds(), in.rows(), in.length())),
                        ops.input(HostTensor.ofLongs(in.attentionMask(), in.rows(), in.total())),
                        ops.input(HostTensor.ofLongs(in.positionIds(), in.rows(), in.length())));
                Tensor logits = model.forward(ops, config, inputs, kv);
                last = ops.toHost(ops.slice(logits, 1, Dim.of(in.length() - 1L), Dim.of(in.length())));
                for (int l = 0; l < layers; l++) {
                    step.keep(kv.presentKey(l), kv.presentValue(l));
                }
            }
            // The presents now hold the whole cache; the old pasts can go.
            replace(presents(kv, true), presents(kv, false));
            int vocab = (int) last.dim(2);
            float[][] out = new float[in.rows()][];
            for (int b = 0; b < out.length; b++) {
                out[b] = Arrays.copyOfRange(last.floats(), b * vocab, (b + 1) * vocab);
            }
            return out;
        }

        @Override
        public void reorderCache(int[] from) {
            long[] rows = new long[from.length];
            for (int i = 0; i < from.length; i++) {
                rows[i] = from[i];
            }
            Tensor[] k = new Tensor[keys.length];
            Tensor[] v = new Tensor[keys.length];
            try (TorchScope step = ops.openScope()) {
                Tensor index = ops.longs(rows);
                for (int l = 0; l < keys.length; l++) {
                    k[l] = step.keep(ops.gather(keys[l], index));
                    v[l] = step.keep(ops.gather(values[l], index));
                }
            }
            replace(k, v);
        }

        private Tensor[] presents(KvCache kv, boolean key) {
            Tensor[] out = new Tensor[keys.length];
            for (int l = 0; l < out.length; l++) {
                out[l] = key ? kv.presentKey(l) : kv.presentValue(l);
            }
            return out;
        }

        private void replace(Tensor[] k, Tensor[] v) {
            ops.release(keys);
            ops.release(values);
            System.arraycopy(k, 0, keys, 0, keys.length);
            System.arraycopy(v, 0, values, 0, values.length);
        }

        @Override
        public void close() {
            whole.close();
        }
    }
}
