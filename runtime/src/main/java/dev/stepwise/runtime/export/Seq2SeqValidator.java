package dev.stepwise.runtime.export;

import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.stepwise.annotations.DType;
import dev.stepwise.runtime.StepwiseException;
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
import dev.stepwise.runtime.ops.EagerBackend;
import dev.stepwise.runtime.ops.EagerOps;
import dev.stepwise.runtime.ops.Tensor;
import dev.stepwise.runtime.ort.OrtSessions;
import dev.stepwise.runtime.tensor.HostTensor;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Checks the files of a seq2seq set against the same forwards run eagerly on the PyTorch engine, on one
 * right-padded batch carried through a whole request: the encoder on it; the decoder on three start tokens with the
 * reference encoder's output; the decoder with past on one more token with the reference's caches; the single decoder
 * and both branches of the merged decoder as each of those two. Every output is compared ({@link Validator}'s rule,
 * logits also by their greedy choice). The reference runs first and is freed before ONNX Runtime loads the files.
 */
public final class Seq2SeqValidator {
    private static final int BATCH = 2;
    private static final int ENCODER_SEQUENCE = 7;
    private static final int DECODER_SEQUENCE = 3;

    private Seq2SeqValidator() {
    }

    public static List<ValidationCase> validate(Seq2SeqArchitecture architecture, ModelConfig config,
                                                WeightSource weights, Path dir, double atol, double rtol) {
        Seq2SeqSpec spec = architecture.spec();
        long vocab = config.vocabSize();
        HostTensor ids = DummyTensors.inputIds(vocab, BATCH, ENCODER_SEQUENCE, 1234);
        HostTensor mask = DummyTensors.rightPaddedMask(BATCH, ENCODER_SEQUENCE);
        HostTensor decoderIds = DummyTensors.inputIds(vocab, BATCH, DECODER_SEQUENCE, 1235);
        HostTensor nextIds = DummyTensors.inputIds(vocab, BATCH, 1, 1236);

        DummyInputs encoderIn = new DummyInputs().put("input_ids", ids).put("attention_mask", mask);
        DummyInputs decoderIn = new DummyInputs().put("input_ids", decoderIds).put("encoder_attention_mask", mask);
        DummyInputs pastIn = new DummyInputs().put("input_ids", nextIds).put("encoder_attention_mask", mask);
        Map<String, HostTensor> encoderOut = new LinkedHashMap<>();
        Map<String, HostTensor> decoderOut = new LinkedHashMap<>();
        Map<String, HostTensor> pastOut = new LinkedHashMap<>();
        Seq2SeqLm model = architecture.newModel();
        int layers = model.decoderLayers(config);
        try (EagerOps ops = EagerBackend.find().open(weights)) {
            Tensor mask2d = ops.input(mask);
            Tensor hidden = model.encode(ops, config, new EncoderInputs(ops.input(ids), mask2d, null, null));
            HostTensor hiddenHost = ops.toHost(hidden);
            encoderOut.put(spec.encoderOutput().name(), hiddenHost);
            decoderIn.put("encoder_hidden_states", hiddenHost);

            KvCache self = KvCache.none(layers);
            KvCache cross = KvCache.none(layers);
            decoderOut.put(spec.logits().name(), ops.toHost(model.decode(ops, config,
                    new Seq2SeqDecoderInputs(ops.input(decoderIds), mask2d, hidden), self, cross)));
            KvCache selfPast = KvCache.withPast(layers);
            KvCache crossPast = KvCache.withPast(layers);
            for (int i = 0; i < layers; i++) {
                record(ops, spec.selfCache(), i, self, decoderOut, pastIn);
                record(ops, spec.crossCache(), i, cross, decoderOut, pastIn);
                selfPast.setPast(i, self.presentKey(i), self.presentValue(i));
                crossPast.setPast(i, cross.presentKey(i), cross.presentValue(i));
            }
            pastOut.put(spec.logits().name(), ops.toHost(model.decode(ops, config,
                    new Seq2SeqDecoderInputs(ops.input(nextIds), mask2d, null), selfPast, crossPast)));
            for (int i = 0; i < layers; i++) {
                pastOut.put(spec.selfCache().presentName(i, "key"), ops.toHost(selfPast.presentKey(i)));
                pastOut.put(spec.selfCache().presentName(i, "value"), ops.toHost(selfPast.presentValue(i)));
            }
        }
        System.gc();
        // the single decoder: step 0 with empty pasts and the encoder's output, step 1 with the caches and an empty one
        DummyInputs single0 = new DummyInputs().put("input_ids", decoderIds).put("encoder_attention_mask", mask)
                .put("encoder_hidden_states", decoderIn.get("encoder_hidden_states"));
        DummyInputs single1 = new DummyInputs().put("input_ids", nextIds).put("encoder_attention_mask", mask)
                .put("encoder_hidden_states", empty(decoderIn.get("encoder_hidden_states"), 1));
        Map<String, HostTensor> single1Out = new LinkedHashMap<>(pastOut);
        for (Map.Entry<String, HostTensor> e : pastIn.all().entrySet()) {
            if (e.getKey().startsWith("past_key_values.")) {
                single0.put(e.getKey(), empty(e.getValue(), 2));
                single1.put(e.getKey(), e.getValue());
                if (e.getKey().contains(".encoder.")) {
                    single1Out.put("present." + e.getKey().substring("past_key_values.".length()), e.getValue());
                }
            }
        }
        // the merged decoder's two branches: without a past as the decoder (its past inputs empty), with a past as
        // the decoder with past (encoder_hidden_states is an input of the merged graph, unread in that branch)
        DummyInputs merged0 = copy(single0).put(DecoderMerge.USE_CACHE_BRANCH, flag(false));
        DummyInputs merged1 = copy(pastIn).put("encoder_hidden_states", decoderIn.get("encoder_hidden_states"))
                .put(DecoderMerge.USE_CACHE_BRANCH, flag(true));
        List<ValidationCase> results = new ArrayList<>();
        results.add(run(dir, Seq2SeqTracer.Graph.ENCODER, spec.encoderInputs(), encoderIn, encoderOut, atol, rtol, null));
        results.add(run(dir, Seq2SeqTracer.Graph.DECODER, spec.decoderInputs(), decoderIn, decoderOut, atol, rtol,
                spec.logits().name()));
        results.add(run(dir, Seq2SeqTracer.Graph.DECODER_WITH_PAST, spec.decoderInputs(), pastIn, pastOut, atol, rtol,
                spec.logits().name()));
        results.add(run(dir, Seq2SeqTracer.Graph.SINGLE_DECODER, spec.decoderInputs(), single0, decoderOut, atol, rtol,
                spec.logits().name()));
        results.add(run(dir, Seq2SeqTracer.Graph.SINGLE_DECODER, spec.decoderInputs(), single1, single1Out, atol, rtol,
                spec.logits().name()));
        results.add(run(dir, Seq2SeqTracer.Graph.MERGED_DECODER, mergedInputs(spec), merged0, decoderOut, atol,
                rtol, spec.logits().name()));
        results.add(run(dir, Seq2SeqTracer.Graph.MERGED_DECODER, mergedInputs(spec), merged1, pastOut, atol,
                rtol, spec.logits().name()));
        return results;
    }

    /** The merged decoder's typed inputs: the decoder's and the bool branch selector. */
    private static List<TensorDecl> mergedInputs(Seq2SeqSpec spec) {
        List<TensorDecl> all = new ArrayList<>(spec.decoderInputs());
        all.add(new TensorDecl(DecoderMerge.USE_CACHE_BRANCH, DType.BOOL, List.of("1")));
        return all;
    }

    private static HostTensor flag(boolean value) {
        return HostTensor.ofLongs(new long[] {value ? 1 : 0}, 1);
    }

    private static DummyInputs copy(DummyInputs in) {
        DummyInputs out = new DummyInputs();
        in.all().forEach(out::put);
        return out;
    }

    /** {@code t}'s shape with {@code axis} 0: an empty past or encoder output. */
    private static HostTensor empty(HostTensor t, int axis) {
        long[] shape = t.shape().clone();
        shape[axis] = 0;
        return HostTensor.ofFloats(new float[0], shape);
    }

    /** A layer's presents: expected outputs of the decoder, and past inputs of the decoder with past. */
    private static void record(EagerOps ops, CacheDecl cache, int layer, KvCache kv, Map<String, HostTensor> outputs,
                               DummyInputs next) {
        HostTensor key = ops.toHost(kv.presentKey(layer));
        HostTensor value = ops.toHost(kv.presentValue(layer));
        outputs.put(cache.presentName(layer, "key"), key);
        outputs.put(cache.presentName(layer, "value"), value);
        next.put(cache.pastName(layer, "key"), key);
        next.put(cache.pastName(layer, "value"), value);
    }

    private static ValidationCase run(Path dir, Seq2SeqTracer.Graph graph, List<TensorDecl> declared, DummyInputs in,
                                      Map<String, HostTensor> expected, double atol, double rtol, String logits) {
        Path file = dir.resolve(graph.file());
        try (OrtSession session = OrtSessions.open(file, 0, true)) {
            Map<String, HostTensor> onnx = Validator.runOrt(session, declared, DType.FLOAT, in);
            String step = switch (graph) {
                case SINGLE_DECODER -> in.get("encoder_hidden_states").dim(1) > 0 ? " first step" : " later step";
                case MERGED_DECODER -> " " + DecoderMerge.USE_CACHE_BRANCH + "="
                        + (in.get(DecoderMerge.USE_CACHE_BRANCH).longs()[0] != 0);
                default -> "";
            };
            return Validator.compare(graph.file() + step + " (batch " + BATCH + ", encoder " + ENCODER_SEQUENCE
                    + " tokens right-padded)", expected, onnx, atol, rtol, logits);
        } catch (OrtException e) {
            throw new StepwiseException(file + ": ONNX Runtime failed: " + e.getMessage(), e);
        }
    }
}
