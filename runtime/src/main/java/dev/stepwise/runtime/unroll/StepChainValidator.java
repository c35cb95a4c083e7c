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
            double presents = 0;
            for (Map.Entry<String, Double> d : c.maxAbsDiff().entrySet()) {
                presents = d.getKey().equals(logits) ? presents : Math.max(presents, d.getValue());
            }
            checks.add(new StepCheck(c.step(), c.maxAbsDiff().get(logits), presents, c.tokensAgree(), atol));
            progress.advance(1);
        });
        progress.done();
        return checks;
    }
}
