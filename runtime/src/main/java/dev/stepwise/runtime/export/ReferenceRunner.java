package dev.stepwise.runtime.export;

import dev.stepwise.annotations.Task;
import dev.stepwise.runtime.checkpoint.WeightSource;
import dev.stepwise.runtime.model.Architecture;
import dev.stepwise.runtime.model.CacheDecl;
import dev.stepwise.runtime.model.CausalLm;
import dev.stepwise.runtime.model.DecoderInputs;
import dev.stepwise.runtime.model.KvCache;
import dev.stepwise.runtime.model.ModelConfig;
import dev.stepwise.runtime.ops.EagerBackend;
import dev.stepwise.runtime.ops.EagerOps;
import dev.stepwise.runtime.ops.Tensor;
import dev.stepwise.runtime.tensor.HostTensor;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The same forward the export traced, run eagerly on the {@link EagerBackend} found on the class path (the PyTorch
 * engine of {@code stepwise-reference}): the reference an export is checked against. Weights are loaded once per
 * runner and reused across runs.
 */
public final class ReferenceRunner implements AutoCloseable {
    private final Architecture architecture;
    private final CausalLm model;
    private final ModelConfig config;
    private final EagerOps ops;

    public ReferenceRunner(Architecture architecture, ModelConfig config, WeightSource weights) {
        this.architecture = architecture;
        this.model = architecture.newModel();
        this.config = config;
        this.ops = EagerBackend.find().open(weights);
    }

    /** Runs the forward; returns logits and, for the with-past task, every present, under their graph output names. */
    public Map<String, HostTensor> run(DummyInputs in, Task task) {
        CacheDecl cache = architecture.spec().cache();
        int layers = config.numLayers();
        boolean withPast = task == Task.TEXT_GENERATION_WITH_PAST;
        KvCache kv = withPast ? KvCache.withPast(layers) : KvCache.none(layers);
        if (withPast) {
            for (int l = 0; l < layers; l++) {
                kv.setPast(l, ops.input(in.get(cache.pastName(l, "key"))), ops.input(in.get(cache.pastName(l, "value"))));
            }
        }
        DecoderInputs inputs = new DecoderInputs(ops.input(in.get("input_ids")), ops.input(in.get("attention_mask")),
                ops.input(in.get("position_ids")));
        Tensor logits = model.forward(ops, config, inputs, kv);
        Map<String, HostTensor> out = new LinkedHashMap<>();
        out.put(architecture.spec().outputs().get(0).name(), ops.toHost(logits));
        if (withPast) {
            for (int l = 0; l < layers; l++) {
                out.put(cache.presentName(l, "key"), ops.toHost(kv.presentKey(l)));
                out.put(cache.presentName(l, "value"), ops.toHost(kv.presentValue(l)));
            }
        }
        return out;
    }

    @Override
    public void close() {
        ops.close();
    }
}
