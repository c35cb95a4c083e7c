package dev.stepwise.runtime.export;

import dev.stepwise.annotations.DType;
import dev.stepwise.annotations.Task;
import dev.stepwise.runtime.checkpoint.WeightSource;
import dev.stepwise.runtime.model.Architecture;
import dev.stepwise.runtime.model.ArchitectureSpec;
import dev.stepwise.runtime.model.CacheDecl;
import dev.stepwise.runtime.model.DecoderInputs;
import dev.stepwise.runtime.model.KvCache;
import dev.stepwise.runtime.model.ModelConfig;
import dev.stepwise.runtime.model.TensorDecl;
import dev.stepwise.runtime.model.layers.LmHead;
import dev.stepwise.runtime.onnx.GraphBuilder;
import dev.stepwise.runtime.onnx.Optimize;
import dev.stepwise.runtime.onnx.TracingOps;
import dev.stepwise.runtime.onnx.WeightSink;
import dev.stepwise.runtime.onnx.proto.Onnx.ModelProto;
import dev.stepwise.runtime.ops.Tensor;
import dev.stepwise.runtime.ops.Dim;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Traces an architecture's forward into the decoder graph of the ONNX contract: the declared id inputs, per-layer
 * past inputs (with-past task), logits and per-layer present outputs. Symbolic axes give the dynamic decoder; fixed
 * {@link AxisSizes} give a fully static graph with no shape arithmetic.
 */
public final class DecoderTracer {
    private DecoderTracer() {
    }

    /** Which key/value tensors the graph has. */
    public enum CacheMode {
        /** Neither past inputs nor present outputs (plain text-generation). */
        NONE,
        /** Past inputs and present outputs (the KV-cache decoder; an empty past is prefill). */
        PAST_AND_PRESENT,
        /** Present outputs only: a static prefill graph, which has no zero-length past inputs. */
        PRESENT_ONLY
    }

    public static ModelProto trace(Architecture architecture, ModelConfig config, WeightSource weights, Task task,
                                   int opset, AxisSizes sizes, WeightSink sink, boolean valueInfo) {
        return trace(architecture, config, weights, task, opset, sizes, sink, valueInfo, DType.FLOAT);
    }

    /**
     * As above, computing in {@code floatType}: with {@code FLOAT16}, weights, activations, and every input and output
     * the architecture declares {@code FLOAT} (past, present, logits) are float16.
     */
    public static ModelProto trace(Architecture architecture, ModelConfig config, WeightSource weights, Task task,
                                   int opset, AxisSizes sizes, WeightSink sink, boolean valueInfo, DType floatType) {
        return trace(architecture, config, weights, task, opset, sizes, sink, valueInfo, floatType, false);
    }

    /** As above; with {@code lastLogitsOnly} the logits are {@code [batch, 1, vocab]} (see the full form). */
    public static ModelProto trace(Architecture architecture, ModelConfig config, WeightSource weights, Task task,
                                   int opset, AxisSizes sizes, WeightSink sink, boolean valueInfo, DType floatType,
                                   boolean lastLogitsOnly) {
        return trace(architecture, config, weights, task, opset, sizes, sink, valueInfo, floatType, lastLogitsOnly,
                Optimize.PLAIN);
    }

    /** As above, with ONNX Runtime's fused operators when {@code optimize} is {@link Optimize#ORT}. */
    public static ModelProto trace(Architecture architecture, ModelConfig config, WeightSource weights, Task task,
                                   int opset, AxisSizes sizes, WeightSink sink, boolean valueInfo, DType floatType,
                                   boolean lastLogitsOnly, Optimize optimize) {
        CacheMode mode = task == Task.TEXT_GENERATION_WITH_PAST ? CacheMode.PAST_AND_PRESENT : CacheMode.NONE;
        return trace(architecture, config, weights, mode, opset, sizes, sink, valueInfo, lastLogitsOnly,
                architecture.spec().modelType() + "-" + task.cliName(), floatType, optimize);
    }

    /**
     * Traces the decoder. With {@code lastTokenLogits} the logits output keeps only the last position,
     * {@code [batch, 1, vocab]} (left padding puts every row's newest token there): the forward is asked for it
     * ({@link DecoderInputs#lastLogitsOnly()}, so the LM head runs on one position), and a forward that ignores the
     * request has its logits sliced after the head.
     */
    public static ModelProto trace(Architecture architecture, ModelConfig config, WeightSource weights, CacheMode mode,
                                   int opset, AxisSizes sizes, WeightSink sink, boolean valueInfo,
                                   boolean lastTokenLogits, String graphName) {
        return trace(architecture, config, weights, mode, opset, sizes, sink, valueInfo, lastTokenLogits, graphName,
                DType.FLOAT);
    }

    /** As above, computing in {@code floatType} ({@code FLOAT} or {@code FLOAT16}). */
    public static ModelProto trace(Architecture architecture, ModelConfig config, WeightSource weights, CacheMode mode,
                                   int opset, AxisSizes sizes, WeightSink sink, boolean valueInfo,
                                   boolean lastTokenLogits, String graphName, DType floatType) {
        return trace(architecture, config, weights, mode, opset, sizes, sink, valueInfo, lastTokenLogits, graphName,
                floatType, Optimize.PLAIN);
    }

    /** As above, with ONNX Runtime's fused operators when {@code optimize} is {@link Optimize#ORT}. */
    public static ModelProto trace(Architecture architecture, ModelConfig config, WeightSource weights, CacheMode mode,
                                   int opset, AxisSizes sizes, WeightSink sink, boolean valueInfo,
                                   boolean lastTokenLogits, String graphName, DType floatType, Optimize optimize) {
        ArchitectureSpec spec = architecture.spec();
        GraphBuilder graph = new GraphBuilder(graphName, opset);
        TracingOps ops = new TracingOps(graph, weights, sink, floatType, optimize);

        Map<String, Tensor> inputs = new HashMap<>();
        for (TensorDecl in : spec.inputs()) {
            Tensor t = ops.input(in.name(), inGraph(in.type(), floatType), sizes.resolveAll(in.axes(), config));
            inputs.put(in.name(), isInteger(in.type()) && in.type() != DType.INT64 ? ops.cast(t, DType.INT64) : t);
        }
        DecoderInputs decoderInputs = new DecoderInputs(inputs.get("input_ids"), inputs.get("attention_mask"),
                inputs.get("position_ids"), lastTokenLogits);

        int layers = config.numLayers();
        CacheDecl cache = spec.cache();
        DType cacheType = inGraph(cache.type(), floatType);
        boolean withPast = mode == CacheMode.PAST_AND_PRESENT;
        boolean withPresent = mode != CacheMode.NONE;
        KvCache kv = withPast ? KvCache.withPast(layers) : KvCache.none(layers);
        if (withPast) {
            for (int l = 0; l < layers; l++) {
                Tensor key = ops.input(cache.pastName(l, "key"), cacheType, sizes.resolveAll(cache.axes(), config));
                Tensor value = ops.input(cache.pastName(l, "value"), cacheType, sizes.resolveAll(cache.axes(), config));
                kv.setPast(l, key, value);
            }
        }

        Tensor logits = architecture.newModel().forward(ops, config, decoderInputs, kv);

        TensorDecl logitsDecl = spec.outputs().get(0);
        List<Object> logitsDims = sizes.resolveAll(logitsDecl.axes(), config);
        if (lastTokenLogits) {
            Dim sequence = ops.dim(logits, 1);
            if (!(sequence.isKnown() && sequence.value() == 1)) {
                logits = LmHead.lastPosition(ops, logits);      // a forward without LmHead: slice after the head
            }
            logitsDims.set(1, 1L);
        }
        ops.output(logitsDecl.name(), logits, inGraph(logitsDecl.type(), floatType), logitsDims);
        if (withPresent) {
            for (int l = 0; l < layers; l++) {
                ops.output(cache.presentName(l, "key"), kv.presentKey(l), cacheType,
                        sizes.resolveAll(cache.presentAxes(), config));
                ops.output(cache.presentName(l, "value"), kv.presentValue(l), cacheType,
                        sizes.resolveAll(cache.presentAxes(), config));
            }
        }
        graph.putMetadata("model_type", spec.modelType());
        graph.putMetadata("cache", mode.name());
        return graph.build(valueInfo);
    }

    /** A declared type as the graph has it: declared {@code FLOAT} tensors take the compute type. */
    public static DType inGraph(DType declared, DType floatType) {
        return declared == DType.FLOAT ? floatType : declared;
    }

    static boolean isInteger(DType t) {
        return t == DType.INT64 || t == DType.INT32;
    }
}
