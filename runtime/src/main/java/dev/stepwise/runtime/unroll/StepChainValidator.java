package dev.stepwise.runtime.unroll;

import dev.stepwise.runtime.tensor.Argmax;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.export.DummyTensors;
import dev.stepwise.runtime.export.ProgressListener;
import dev.stepwise.runtime.model.ArchitectureSpec;
import dev.stepwise.runtime.model.CacheDecl;
import dev.stepwise.runtime.model.ModelConfig;
import dev.stepwise.runtime.ort.OrtRunner;
import dev.stepwise.runtime.onnx.OnnxModelReader;
import dev.stepwise.runtime.ort.OrtSessions;
import dev.stepwise.runtime.ort.SharedWeights;
import dev.stepwise.runtime.tensor.HostTensor;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Chains the step graphs in ONNX Runtime (presents of step s become the past of step s+1) next to the dynamic
 * decoder fed the same tokens, and compares logits and presents at every step, plus the greedy tokens. The prompt is
 * a left-padded batch (row 0 full, later rows padded), so padding is checked too.
 */
final class StepChainValidator {
    private StepChainValidator() {
    }

    static List<StepCheck> validate(ArchitectureSpec spec, ModelConfig config, Path dynamicModel, Path dir,
                                    List<GenStep> steps, boolean lastTokenLogits, double atol, ProgressListener progress) {
        progress.stage("check", steps.size());
        GenStep first = steps.get(0);
        int batch = first.batch();
        int prompt = first.sequence();
        String logitsName = spec.outputs().get(0).name();
        CacheDecl cache = spec.cache();
        int layers = config.numLayers();

        HostTensor mask = DummyTensors.attentionMask(batch, prompt);
        HostTensor ids = DummyTensors.inputIds(config.vocabSize(), batch, prompt, 7);
        HostTensor positions = DummyTensors.positionIds(mask, prompt);
        long[] nextPosition = new long[batch];
        for (int b = 0; b < batch; b++) {
            nextPosition[b] = positions.longs()[b * prompt + prompt - 1] + 1;
        }

        Map<String, HostTensor> dynamicPast = new HashMap<>();
        long[] emptyShape = {batch, config.numKeyValueHeads(), 0, config.headDim()};
        for (int l = 0; l < layers; l++) {
            dynamicPast.put(cache.pastName(l, "key"), HostTensor.ofFloats(new float[0], emptyShape));
            dynamicPast.put(cache.pastName(l, "value"), HostTensor.ofFloats(new float[0], emptyShape));
        }
        Map<String, HostTensor> stepPast = new HashMap<>();

        List<StepCheck> checks = new ArrayList<>();
        // Every session computes with one memory map of the shared weights file (the dynamic decoder's weights are
        // the steps' own), so the check costs one copy of the weights, not one per session.
        try (SharedWeights weights = new SharedWeights();
             OrtSession dynamic = OrtSessions.open(dynamicModel, 0, weights.initializers(OnnxModelReader.load(dynamicModel)))) {
            for (GenStep step : steps) {
                Map<String, HostTensor> inputs = new HashMap<>();
                inputs.put("input_ids", ids);
                inputs.put("attention_mask", mask);
                inputs.put("position_ids", positions);

                Map<String, HostTensor> dynamicIn = new HashMap<>(inputs);
                dynamicIn.putAll(dynamicPast);
                Map<String, HostTensor> expected = OrtRunner.run(dynamic, dynamicIn);

                Map<String, HostTensor> stepIn = new HashMap<>(inputs);
                stepIn.putAll(stepPast);
                Map<String, HostTensor> actual;
                Path stepFile = dir.resolve(step.fileName());
                try (OrtSession session = OrtSessions.open(stepFile, 0, weights.initializers(OnnxModelReader.load(stepFile)))) {
                    actual = OrtRunner.run(session, stepIn);
                }

                HostTensor expectedLogits = expected.get(logitsName);
                HostTensor actualLogits = actual.get(logitsName);
                boolean lastOnly = lastTokenLogits && step.isPrefill();
                double logitsDiff = maxAbsDiff(lastOnly ? expectedLogits.lastPosition() : expectedLogits, actualLogits);
                double presentsDiff = 0;
                dynamicPast.clear();
                stepPast.clear();
                for (int l = 0; l < layers; l++) {
                    for (String kind : new String[] {"key", "value"}) {
                        HostTensor e = expected.get(cache.presentName(l, kind));
                        HostTensor a = actual.get(cache.presentName(l, kind));
                        presentsDiff = Math.max(presentsDiff, maxAbsDiff(e, a));
                        dynamicPast.put(cache.pastName(l, kind), e);
                        stepPast.put(cache.pastName(l, kind), a);
                    }
                }
                long[] expectedTokens = lastTokens(expectedLogits);
                long[] actualTokens = lastTokens(actualLogits);
                checks.add(new StepCheck(step.index(), logitsDiff, presentsDiff,
                        java.util.Arrays.equals(expectedTokens, actualTokens), atol));
                progress.advance(1);

                // Next step: the dynamic decoder's greedy tokens, one position more in the mask.
                ids = HostTensor.ofLongs(expectedTokens, batch, 1);
                long[] pos = new long[batch];
                for (int b = 0; b < batch; b++) {
                    pos[b] = nextPosition[b]++;
                }
                positions = HostTensor.ofLongs(pos, batch, 1);
                mask = appendOnes(mask);
            }
        } catch (OrtException e) {
            throw new StepwiseException("ONNX Runtime failed while checking the step graphs: " + e.getMessage(), e);
        }
        progress.done();
        return checks;
    }

    static long[] lastTokens(HostTensor logits) {
        int batch = (int) logits.dim(0);
        int seq = (int) logits.dim(1);
        int vocab = (int) logits.dim(2);
        long[] tokens = new long[batch];
        for (int b = 0; b < batch; b++) {
            tokens[b] = Argmax.of(logits.floats(), (b * seq + seq - 1) * vocab, vocab);
        }
        return tokens;
    }

    static double maxAbsDiff(HostTensor a, HostTensor b) {
        if (!java.util.Arrays.equals(a.shape(), b.shape())) {
            return Double.POSITIVE_INFINITY;
        }
        return a.maxAbsDiff(b);
    }

    static HostTensor appendOnes(HostTensor mask) {
        int batch = (int) mask.dim(0);
        int total = (int) mask.dim(1);
        long[] next = new long[batch * (total + 1)];
        for (int b = 0; b < batch; b++) {
            System.arraycopy(mask.longs(), b * total, next, b * (total + 1), total);
            next[b * (total + 1) + total] = 1;
        }
        return HostTensor.ofLongs(next, batch, total + 1);
    }
}
