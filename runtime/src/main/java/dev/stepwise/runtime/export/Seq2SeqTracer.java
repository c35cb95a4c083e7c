package dev.stepwise.runtime.export;

import dev.stepwise.annotations.DType;
import dev.stepwise.runtime.checkpoint.WeightSource;
import dev.stepwise.runtime.model.CacheDecl;
import dev.stepwise.runtime.model.EncoderInputs;
import dev.stepwise.runtime.model.KvCache;
import dev.stepwise.runtime.model.ModelConfig;
import dev.stepwise.runtime.model.Seq2SeqArchitecture;
import dev.stepwise.runtime.model.Seq2SeqDecoderInputs;
import dev.stepwise.runtime.model.Seq2SeqLm;
import dev.stepwise.runtime.model.Seq2SeqSpec;
import dev.stepwise.runtime.model.TensorDecl;
import dev.stepwise.runtime.onnx.DecoderMerge;
import dev.stepwise.runtime.onnx.GraphBuilder;
import dev.stepwise.runtime.onnx.TracingOps;
import dev.stepwise.runtime.onnx.WeightSink;
import dev.stepwise.runtime.onnx.proto.Onnx.ModelProto;
import dev.stepwise.runtime.ops.Tensor;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Traces an encoder-decoder's two forwards into optimum's graphs: the encoder; the decoder without a past (it
 * computes the cross-attention cache from {@code encoder_hidden_states} and outputs both caches' presents); and the
 * decoder with a past, which takes both caches and outputs only the self-attention presents (the cross cache does not
 * change, and {@code encoder_hidden_states} is not an input since nothing reads it: optimum's contract). Batch and
 * sequence axes stay symbolic. optimum's merged decoder puts the two decoders behind an {@code If}; Stepwise's single
 * decoder does without one.
 */
public final class Seq2SeqTracer {
    private static final String[] KINDS = {"key", "value"};

    private Seq2SeqTracer() {
    }

    /** The graphs a seq2seq set holds: optimum's three and Stepwise's single decoder. */
    public enum Graph {
        ENCODER("encoder_model.onnx"), DECODER("decoder_model.onnx"), DECODER_WITH_PAST("decoder_with_past_model.onnx"),
        /**
         * Stepwise's single decoder: both pasts and {@code encoder_hidden_states} always inputs; the first step gives
         * empty pasts and the encoder's output, later steps the caches and an empty {@code encoder_hidden_states}, so
         * the cross cache is computed on the first step only, without an {@code If} or a second copy of the graph.
         */
        SINGLE_DECODER("decoder_single_model.onnx"),
        /**
         * optimum's merged decoder: {@link #DECODER} and {@link #DECODER_WITH_PAST} behind one {@code If} on
         * {@code use_cache_branch} ({@link DecoderMerge}), reading the same weights.
         */
        MERGED_DECODER("decoder_model_merged.onnx");

        private final String file;

        Graph(String file) {
            this.file = file;
        }

        public String file() {
            return file;
        }
    }

    public static ModelProto trace(Seq2SeqArchitecture architecture, ModelConfig config, WeightSource weights,
                                   Graph which, int opset, WeightSink sink, DType floatType) {
        if (which == Graph.MERGED_DECODER) {
            return DecoderMerge.merge(trace(architecture, config, weights, Graph.DECODER, opset, sink, floatType),
                    trace(architecture, config, weights, Graph.DECODER_WITH_PAST, opset, sink, floatType),
                    architecture.spec().modelType() + "-merged_decoder");
        }
        return trace(architecture, config, weights, which, opset, sink, floatType, Seq2SeqAxes.dynamic(),
                architecture.spec().modelType() + "-" + which.name().toLowerCase(java.util.Locale.ROOT));
    }

    /**
     * As above with the batch and sequence axes {@code axes} gives: fixed numbers trace a static graph (an unrolled
     * encoder or decoder step), in which no shape arithmetic is emitted. The single decoder is dynamic only.
     */
    public static ModelProto trace(Seq2SeqArchitecture architecture, ModelConfig config, WeightSource weights,
                                   Graph which, int opset, WeightSink sink, DType floatType, Seq2SeqAxes axes,
                                   String graphName) {
        Seq2SeqSpec spec = architecture.spec();
        GraphBuilder graph = new GraphBuilder(graphName, opset);
        TracingOps ops = new TracingOps(graph, weights, sink, floatType);
        Seq2SeqLm model = architecture.newModel();
        if (which == Graph.ENCODER) {
            Map<String, Tensor> in = inputs(ops, config, axes, spec.encoderInputs());
            Tensor hidden = model.encode(ops, config, new EncoderInputs(in.get("input_ids"), in.get("attention_mask"),
                    null, null));
            output(ops, config, axes, spec.encoderOutput(), hidden, floatType);
        } else if (which == Graph.SINGLE_DECODER) {
            traceSingle(ops, config, axes, spec, model, floatType);
        } else {
            boolean withPast = which == Graph.DECODER_WITH_PAST;
            List<TensorDecl> declared = withPast ? withoutHiddenStates(spec.decoderInputs()) : spec.decoderInputs();
            Map<String, Tensor> in = inputs(ops, config, axes, declared);
            int layers = model.decoderLayers(config);
            KvCache self = withPast ? KvCache.withPast(layers) : KvCache.none(layers);
            KvCache cross = withPast ? KvCache.withPast(layers) : KvCache.none(layers);
            if (withPast) {
                for (int i = 0; i < layers; i++) {
                    setPast(ops, config, axes, self, spec.selfCache(), i, floatType);
                    setPast(ops, config, axes, cross, spec.crossCache(), i, floatType);
                }
            }
            Tensor logits = model.decode(ops, config, new Seq2SeqDecoderInputs(in.get("input_ids"),
                    in.get("encoder_attention_mask"), in.get("encoder_hidden_states")), self, cross);
            output(ops, config, axes, spec.logits(), logits, floatType);
            for (int i = 0; i < layers; i++) {
                presents(ops, config, axes, self, spec.selfCache(), spec.selfPresentAxes(), i, floatType);
                if (!withPast) {
                    presents(ops, config, axes, cross, spec.crossCache(), spec.crossCache().axes(), i, floatType);
                }
            }
        }
        graph.putMetadata("model_type", spec.modelType());
        graph.putMetadata("task", "text2text-generation");
        return graph.build(false);
    }

    private static void traceSingle(TracingOps ops, ModelConfig config, Seq2SeqAxes axes, Seq2SeqSpec spec,
                                    Seq2SeqLm model, DType floatType) {
        List<TensorDecl> declared = spec.decoderInputs().stream().map(t -> t.name().equals("encoder_hidden_states")
                ? renamed(t, Seq2SeqAxes.NEW_ENCODER_SEQUENCE) : t).toList();
        Map<String, Tensor> in = inputs(ops, config, axes, declared);
        int layers = model.decoderLayers(config);
        KvCache self = KvCache.withPast(layers);
        KvCache cross = KvCache.withPast(layers);
        CacheDecl crossPast = new CacheDecl(spec.crossCache().pastPattern(), spec.crossCache().presentPattern(),
                spec.crossCache().type(), spec.crossCache().axes().stream()
                .map(a -> a.equals(Seq2SeqAxes.ENCODER_SEQUENCE) ? Seq2SeqAxes.PAST_ENCODER_SEQUENCE : a).toList());
        for (int i = 0; i < layers; i++) {
            setPast(ops, config, axes, self, spec.selfCache(), i, floatType);
            setPast(ops, config, axes, cross, crossPast, i, floatType);
        }
        Tensor logits = model.decode(ops, config, new Seq2SeqDecoderInputs(in.get("input_ids"),
                in.get("encoder_attention_mask"), in.get("encoder_hidden_states")), self, cross);
        output(ops, config, axes, spec.logits(), logits, floatType);
        for (int i = 0; i < layers; i++) {
            presents(ops, config, axes, self, spec.selfCache(), spec.selfPresentAxes(), i, floatType);
            presents(ops, config, axes, cross, spec.crossCache(), spec.crossCache().axes(), i, floatType);
        }
    }

    private static TensorDecl renamed(TensorDecl t, String sequence) {
        return new TensorDecl(t.name(), t.type(), t.axes().stream()
                .map(a -> a.equals(Seq2SeqAxes.ENCODER_SEQUENCE) ? sequence : a).toList());
    }

    static List<TensorDecl> withoutHiddenStates(List<TensorDecl> inputs) {
        return inputs.stream().filter(t -> !t.name().equals("encoder_hidden_states")).toList();
    }

    private static Map<String, Tensor> inputs(TracingOps ops, ModelConfig config, Seq2SeqAxes axes,
                                              List<TensorDecl> declared) {
        Map<String, Tensor> byName = new HashMap<>();
        for (TensorDecl d : declared) {
            Tensor t = ops.input(d.name(), DecoderTracer.inGraph(d.type(), ops.floatType()),
                    axes.resolveAll(d.axes(), config));
            boolean integer = d.type() == DType.INT32 || d.type() == DType.INT64;
            byName.put(d.name(), integer && d.type() != DType.INT64 ? ops.cast(t, DType.INT64) : t);
        }
        return byName;
    }

    /** Declares layer {@code layer}'s past key and value inputs of {@code decl} and hands them to {@code cache}. */
    private static void setPast(TracingOps ops, ModelConfig config, Seq2SeqAxes axes, KvCache cache, CacheDecl decl,
                                int layer, DType floatType) {
        cache.setPast(layer, past(ops, config, axes, decl, layer, "key", floatType),
                past(ops, config, axes, decl, layer, "value", floatType));
    }

    /** Declares layer {@code layer}'s present key and value of {@code cache} as outputs named by {@code decl}. */
    private static void presents(TracingOps ops, ModelConfig config, Seq2SeqAxes axes, KvCache cache, CacheDecl decl,
                                 List<String> presentAxes, int layer, DType floatType) {
        for (String kind : KINDS) {
            ops.output(decl.presentName(layer, kind),
                    kind.equals("key") ? cache.presentKey(layer) : cache.presentValue(layer),
                    DecoderTracer.inGraph(decl.type(), floatType), axes.resolveAll(presentAxes, config));
        }
    }

    private static Tensor past(TracingOps ops, ModelConfig config, Seq2SeqAxes axes, CacheDecl cache, int layer,
                               String kind, DType floatType) {
        return ops.input(cache.pastName(layer, kind), DecoderTracer.inGraph(cache.type(), floatType),
                axes.resolveAll(cache.axes(), config));
    }

    private static void output(TracingOps ops, ModelConfig config, Seq2SeqAxes axes, TensorDecl decl, Tensor value,
                               DType floatType) {
        ops.output(decl.name(), value, DecoderTracer.inGraph(decl.type(), floatType),
                axes.resolveAll(decl.axes(), config));
    }
}
