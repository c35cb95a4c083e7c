package dev.stepwise.runtime.export;

import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.stepwise.annotations.DType;
import dev.stepwise.annotations.Task;
import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.checkpoint.WeightSource;
import dev.stepwise.runtime.model.EncoderArchitecture;
import dev.stepwise.runtime.model.EncoderModel;
import dev.stepwise.runtime.model.ModelConfig;
import dev.stepwise.runtime.model.TensorDecl;
import dev.stepwise.runtime.ops.EagerBackend;
import dev.stepwise.runtime.ops.EagerOps;
import dev.stepwise.runtime.ops.Tensor;
import dev.stepwise.runtime.ort.OrtSessions;
import dev.stepwise.runtime.tensor.HostTensor;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Checks an exported encoder as {@link Validator} checks a decoder: ONNX Runtime on the file against the same forward
 * run eagerly on the PyTorch engine (the {@link EagerBackend} of stepwise-reference), on dummy inputs (a right-padded batch and a single short row), compared with
 * {@link Validator}'s per-output rule. The reference runs first and is freed before ONNX Runtime loads the file.
 */
public final class EncoderValidator {
    private EncoderValidator() {
    }

    public static List<Validator.Case> defaultCases(ModelConfig config) {
        int seq = Math.max(2, Math.min(16, config.maxPositions()));
        return List.of(new Validator.Case(seq + " tokens, right-padded batch", 2, seq, 0),
                new Validator.Case("5 tokens, one row", 1, Math.min(5, seq), 0));
    }

    public static List<ValidationCase> validate(EncoderArchitecture architecture, ModelConfig config,
                                                WeightSource weights, Path modelFile, Task task, double atol,
                                                double rtol, ProgressListener progress) {
        List<Validator.Case> cases = defaultCases(config);
        progress.stage("validate", 2L * cases.size());
        List<DummyInputs> inputs = new ArrayList<>();
        for (int i = 0; i < cases.size(); i++) {
            Validator.Case c = cases.get(i);
            inputs.add(architecture.dummyInputs(config, c.batch(), c.sequence(), 1234 + i));
        }
        TensorDecl output = architecture.spec().output(task);
        List<Map<String, HostTensor>> expected = new ArrayList<>();
        EncoderModel model = architecture.newModel();
        try (EagerOps ops = EagerBackend.find().open(weights)) {
            for (DummyInputs in : inputs) {
                Map<String, Tensor> byName = new HashMap<>();
                for (TensorDecl d : architecture.spec().inputs()) {
                    byName.put(d.name(), ops.input(in.get(d.name())));
                }
                Map<String, HostTensor> out = new LinkedHashMap<>();
                out.put(output.name(), ops.toHost(model.forward(ops, config, EncoderTracer.inputs(byName), task)));
                expected.add(out);
                progress.advance(1);
            }
        }
        System.gc();
        // class logits and vocabulary logits get the greedy-choice check too; hidden states have no choice to check
        String choice = task == Task.FEATURE_EXTRACTION ? null : output.name();
        List<ValidationCase> results = new ArrayList<>();
        try (OrtSession session = OrtSessions.open(modelFile, 0, true)) {
            for (int i = 0; i < cases.size(); i++) {
                Map<String, HostTensor> onnx = Validator.runOrt(session, architecture.spec().inputs(), DType.FLOAT,
                        inputs.get(i));
                results.add(Validator.compare(cases.get(i).name(), expected.get(i), onnx, atol, rtol, choice));
                progress.advance(1);
            }
        } catch (OrtException e) {
            throw new StepwiseException(modelFile + ": ONNX Runtime failed: " + e.getMessage(), e);
        }
        progress.done();
        return results;
    }
}
