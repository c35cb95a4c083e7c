package dev.stepwise.runtime.unroll;

import dev.stepwise.runtime.export.DummyTensors;
import dev.stepwise.runtime.export.ProgressListener;
import dev.stepwise.runtime.model.ArchitectureSpec;
import dev.stepwise.runtime.model.ModelConfig;
import dev.stepwise.runtime.onnx.OnnxModelReader;
import dev.stepwise.runtime.simplify.DecoderSignature;
import dev.stepwise.runtime.simplify.StepChain;
import dev.stepwise.runtime.tensor.HostTensor;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * Unroll's use of the one chained-step check ({@link StepChain}, which {@code simplify} runs too): the step graphs
 * chained next to the dynamic decoder they were traced with, on a left-padded batch (row 0 full, later rows padded,
 * as {@link DummyTensors} pads), each step's differences reduced to logits and presents against the architecture's
 * atol.
 */
final class StepChainValidator {
    private StepChainValidator() {
    }

    static List<StepCheck> validate(ArchitectureSpec spec, ModelConfig config, Path dynamicModel, Path dir,
                                    List<GenStep> steps, double atol, ProgressListener progress) {
        progress.stage("check", steps.size());
        int batch = steps.get(0).batch();
        int prompt = steps.get(0).sequence();
        long[] ids = DummyTensors.inputIds(config.vocabSize(), batch, prompt, 7).longs();
        HostTensor mask = DummyTensors.attentionMask(batch, prompt);
        List<long[]> rows = new ArrayList<>();
        for (int b = 0; b < batch; b++) {
            int padding = 0;
            while (mask.longs()[b * prompt + padding] == 0) {
                padding++;
            }
            rows.add(Arrays.copyOfRange(ids, b * prompt + padding, (b + 1) * prompt));
        }
        List<Path> files = steps.stream().map(s -> dir.resolve(s.fileName())).toList();
        DecoderSignature signature = DecoderSignature.of(OnnxModelReader.load(dynamicModel).model().getGraph(),
                dynamicModel.toString());
        String logits = spec.outputs().get(0).name();
        List<StepCheck> checks = new ArrayList<>();
        new StepChain(signature, batch, prompt, 0, atol, 0).check(dynamicModel, files, rows, 0, c -> {
            checks.add(reduce(c, logits, atol));
            progress.advance(1);
        });
        progress.done();
        return checks;
    }

    /**
     * A seq2seq unroll's check: the static encoder and decoder steps chained next to the dynamic encoder and single
     * decoder, on B right-padded rows of random ids (row 0 full, later rows shorter, as {@link DummyTensors} pads);
     * step 0 also reports the encoders' difference.
     */
    /** One step's differences as unroll reports them: logits, the worst present, the encoder's (NaN if none). */
    private static StepCheck reduce(StepChain.StepCheck c, String logits, double atol) {
        double presents = 0;
        for (Map.Entry<String, Double> d : c.maxAbsDiff().entrySet()) {
            boolean other = d.getKey().equals(logits) || d.getKey().equals(StepChain.ENCODER_OUTPUT);
            presents = other ? presents : Math.max(presents, d.getValue());
        }
        return new StepCheck(c.step(), c.maxAbsDiff().get(logits), presents,
                c.maxAbsDiff().getOrDefault(StepChain.ENCODER_OUTPUT, Double.NaN), c.tokensAgree(), atol);
    }

    static List<StepCheck> validateSeq2Seq(ModelConfig config, Path dynamicEncoder, Path dynamicDecoder, Path encoder,
                                           Path dir, List<GenStep> steps, int encoderLength, long start, double atol,
                                           ProgressListener progress) {
        progress.stage("check", steps.size());
        int batch = steps.get(0).batch();
        long[] ids = DummyTensors.inputIds(config.vocabSize(), batch, encoderLength, 7).longs();
        long[] mask = DummyTensors.rightPaddedMask(batch, encoderLength).longs();
        List<long[]> rows = new ArrayList<>();
        for (int b = 0; b < batch; b++) {
            int real = 0;
            while (real < encoderLength && mask[b * encoderLength + real] == 1) {
                real++;
            }
            rows.add(Arrays.copyOfRange(ids, b * encoderLength, b * encoderLength + real));
        }
        List<Path> files = steps.stream().map(s -> dir.resolve(s.fileName())).toList();
        DecoderSignature signature = DecoderSignature.of(OnnxModelReader.load(dynamicDecoder).model().getGraph(),
                dynamicDecoder.toString());
        List<StepCheck> checks = new ArrayList<>();
        new StepChain(signature, batch, 1, 0, atol, 0).checkSeq2Seq(dynamicEncoder, encoder, dynamicDecoder, files,
                rows, encoderLength, config.padTokenId(), start, c -> {
                    checks.add(reduce(c, signature.logits(), atol));
                    progress.advance(1);
                });
        progress.done();
        return checks;
    }
}
