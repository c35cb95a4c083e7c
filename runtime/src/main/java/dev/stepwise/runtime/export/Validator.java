package dev.stepwise.runtime.export;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.stepwise.annotations.DType;
import dev.stepwise.annotations.Task;
import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.checkpoint.WeightSource;
import dev.stepwise.runtime.model.Architecture;
import dev.stepwise.runtime.model.ModelConfig;
import dev.stepwise.runtime.model.TensorDecl;
import dev.stepwise.runtime.ort.OrtSessions;
import dev.stepwise.runtime.ort.OrtTensors;
import dev.stepwise.runtime.tensor.HostTensor;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Checks an exported file: ONNX Runtime on the file against the PyTorch-engine reference on the same dummy inputs.
 * Cases cover prefill with an empty past, a decode step after a past, and left-padded rows. Any output beyond the
 * tolerance fails the export, naming the output and its max abs difference.
 */
public final class Validator {
    /** A named set of dummy-input dims. */
    public record Case(String name, int batch, int sequence, int past) {
    }

    private Validator() {
    }

    public static List<Case> defaultCases(Task task, ModelConfig config) {
        int room = Math.max(2, Math.min(32, config.maxPositions()));
        int seq = Math.min(16, room / 2);
        List<Case> cases = new ArrayList<>();
        if (task == Task.TEXT_GENERATION_WITH_PAST) {
            cases.add(new Case("prefill, empty past, padded batch", 2, seq, 0));
            cases.add(new Case("past " + seq + " + " + seq + " new tokens, padded batch", 2, seq, seq));
            cases.add(new Case("decode 1 token after past " + seq, 2, 1, seq));
        } else {
            cases.add(new Case(seq + " tokens, padded batch", 2, seq, 0));
            cases.add(new Case("1 token", 2, 1, 0));
        }
        return cases;
    }

    public static List<ValidationCase> validate(Architecture architecture, ModelConfig config, WeightSource weights,
                                                Path modelFile, Task task, double atol, ProgressListener progress) {
        List<Case> cases = defaultCases(task, config);
        progress.stage("validate", 2L * cases.size());
        List<DummyInputs> inputs = new ArrayList<>();
        for (int i = 0; i < cases.size(); i++) {
            Case c = cases.get(i);
            inputs.add(architecture.dummyInputs(config, c.batch(), c.sequence(), c.past(), 1234 + i));
        }
        // ONNX Runtime first, then its session is closed, so both engines never hold the weights at once.
        List<Map<String, HostTensor>> onnx = new ArrayList<>();
        try (OrtSession session = OrtSessions.open(modelFile, 0)) {
            for (DummyInputs in : inputs) {
                onnx.add(runOrt(session, architecture, in));
                progress.advance(1);
            }
        } catch (OrtException e) {
            throw new StepwiseException(modelFile + ": ONNX Runtime failed: " + e.getMessage(), e);
        }
        List<ValidationCase> results = new ArrayList<>();
        try (ReferenceRunner reference = new ReferenceRunner(architecture, config, weights)) {
            for (int i = 0; i < cases.size(); i++) {
                Map<String, HostTensor> expected = reference.run(inputs.get(i), task);
                results.add(compare(cases.get(i).name(), expected, onnx.get(i), atol));
                progress.advance(1);
            }
        }
        progress.done();
        return results;
    }

    /** Runs a session on dummy inputs (only the inputs the graph declares) and copies every float output out. */
    public static Map<String, HostTensor> runOrt(OrtSession session, Architecture architecture, DummyInputs in)
            throws OrtException {
        OrtEnvironment env = OrtSessions.environment();
        Map<String, DType> declared = new HashMap<>();
        for (TensorDecl d : architecture.spec().inputs()) {
            declared.put(d.name(), d.type());
        }
        Map<String, OnnxTensor> feed = new LinkedHashMap<>();
        try {
            for (String name : session.getInputNames()) {
                feed.put(name, OrtTensors.create(env, in.get(name), declared.getOrDefault(name, architecture.spec().cache().type())));
            }
            Map<String, HostTensor> out = new LinkedHashMap<>();
            try (OrtSession.Result result = session.run(feed)) {
                for (Map.Entry<String, OnnxValue> e : result) {
                    out.put(e.getKey(), OrtTensors.toHostFloats((OnnxTensor) e.getValue()));
                }
            }
            return out;
        } finally {
            feed.values().forEach(OnnxTensor::close);
        }
    }

    static ValidationCase compare(String name, Map<String, HostTensor> expected, Map<String, HostTensor> actual,
                                  double atol) {
        Map<String, Double> diffs = new LinkedHashMap<>();
        for (Map.Entry<String, HostTensor> e : expected.entrySet()) {
            HostTensor got = actual.get(e.getKey());
            if (got == null) {
                throw new StepwiseException("validation: the ONNX graph has no output '" + e.getKey() + "'");
            }
            diffs.put(e.getKey(), maxAbsDiff(e.getKey(), e.getValue(), got));
        }
        return new ValidationCase(name, diffs, atol);
    }

    static double maxAbsDiff(String output, HostTensor expected, HostTensor actual) {
        if (!java.util.Arrays.equals(expected.shape(), actual.shape())) {
            throw new StepwiseException("validation: output '" + output + "' has shape "
                    + java.util.Arrays.toString(actual.shape()) + ", the reference has "
                    + java.util.Arrays.toString(expected.shape()));
        }
        double worst = 0;
        float[] a = expected.floats();
        float[] b = actual.floats();
        for (int i = 0; i < a.length; i++) {
            double d = Math.abs((double) a[i] - b[i]);
            if (Double.isNaN(d)) {
                return Double.POSITIVE_INFINITY;
            }
            worst = Math.max(worst, d);
        }
        return worst;
    }

    /** One line naming every output beyond tolerance, worst first. */
    public static String failureMessage(List<ValidationCase> cases) {
        StringBuilder sb = new StringBuilder("validation failed against the PyTorch reference:");
        for (ValidationCase c : cases) {
            c.maxAbsDiff().entrySet().stream()
                    .filter(e -> e.getValue() > c.atol())
                    .sorted((x, y) -> Double.compare(y.getValue(), x.getValue()))
                    .limit(4)
                    .forEach(e -> sb.append(String.format(" [%s] %s max abs diff %.3g > atol %.1g;", c.name(), e.getKey(),
                            e.getValue(), c.atol())));
        }
        return sb.toString();
    }
}
