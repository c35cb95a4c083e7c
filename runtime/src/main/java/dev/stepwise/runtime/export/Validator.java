package dev.stepwise.runtime.export;

import dev.stepwise.runtime.tensor.Argmax;
import ai.onnxruntime.NodeInfo;
import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;
import dev.stepwise.annotations.DType;
import dev.stepwise.annotations.Task;
import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.checkpoint.HalfFloats;
import dev.stepwise.runtime.checkpoint.WeightSource;
import dev.stepwise.runtime.model.Architecture;
import dev.stepwise.runtime.model.ModelConfig;
import dev.stepwise.runtime.model.TensorDecl;
import dev.stepwise.runtime.onnx.Optimize;
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
 *
 * <p>A float16 graph is checked against the same float32 reference (CPU libtorch's float16 kernels are too patchy to
 * be one), with a tolerance relative to each output's magnitude ({@link ValidationCase#tolerance}) and the greedy
 * choice checked where it is clear-cut; its dummy past values are rounded to float16 for both engines, so both see the
 * same inputs.
 */
public final class Validator {
    /** A named set of dummy-input dims. */
    public record Case(String name, int batch, int sequence, int past) {
    }

    private Validator() {
    }

    public static List<Case> defaultCases(Task task, ModelConfig config) {
        return defaultCases(task, config, Optimize.PLAIN);
    }

    /**
     * The cases for a graph of {@code optimize}'s operators: ONNX Runtime's GroupQueryAttention takes several new
     * tokens after a past at batch 1 only, so an {@link Optimize#ORT} graph's middle case is one row.
     */
    public static List<Case> defaultCases(Task task, ModelConfig config, Optimize optimize) {
        int room = Math.max(2, Math.min(32, config.maxPositions()));
        int seq = Math.min(16, room / 2);
        List<Case> cases = new ArrayList<>();
        if (task == Task.TEXT_GENERATION_WITH_PAST) {
            cases.add(new Case("prefill, empty past, padded batch", 2, seq, 0));
            cases.add(optimize == Optimize.ORT
                    ? new Case("past " + seq + " + " + seq + " new tokens, batch 1", 1, seq, seq)
                    : new Case("past " + seq + " + " + seq + " new tokens, padded batch", 2, seq, seq));
            cases.add(new Case("decode 1 token after past " + seq, 2, 1, seq));
        } else {
            cases.add(new Case(seq + " tokens, padded batch", 2, seq, 0));
            cases.add(new Case("1 token", 2, 1, 0));
        }
        return cases;
    }

    public static List<ValidationCase> validate(Architecture architecture, ModelConfig config, WeightSource weights,
                                                Path modelFile, Task task, double atol, ProgressListener progress) {
        return validate(architecture, config, weights, modelFile, task, atol, 0, DType.FLOAT, progress);
    }

    /** As above for a graph computing in {@code dtype}, with the relative tolerance {@code rtol}. */
    public static List<ValidationCase> validate(Architecture architecture, ModelConfig config, WeightSource weights,
                                                Path modelFile, Task task, double atol, double rtol, DType dtype,
                                                ProgressListener progress) {
        return validate(architecture, config, weights, modelFile, task, atol, rtol, dtype, false, progress);
    }

    /**
     * As above; with {@code lastLogitsOnly} the graph's logits {@code [B, 1, V]} are compared with the last position
     * of the reference's full logits (the reference runs the forward without the request, so a head sliced at the
     * wrong position cannot pass).
     */
    public static List<ValidationCase> validate(Architecture architecture, ModelConfig config, WeightSource weights,
                                                Path modelFile, Task task, double atol, double rtol, DType dtype,
                                                boolean lastLogitsOnly, ProgressListener progress) {
        return validate(architecture, config, weights, modelFile, task, atol, rtol, dtype, lastLogitsOnly,
                Optimize.PLAIN, progress);
    }

    /**
     * As above for a graph of {@code optimize}'s operators. An {@link Optimize#ORT} graph is compared at the
     * positions the attention mask keeps: its outputs at padded positions are not the plain graph's and nothing reads
     * them ({@link #atRealPositions}).
     */
    public static List<ValidationCase> validate(Architecture architecture, ModelConfig config, WeightSource weights,
                                                Path modelFile, Task task, double atol, double rtol, DType dtype,
                                                boolean lastLogitsOnly, Optimize optimize, ProgressListener progress) {
        List<Case> cases = defaultCases(task, config, optimize);
        progress.stage("validate", 2L * cases.size());
        List<DummyInputs> inputs = new ArrayList<>();
        for (int i = 0; i < cases.size(); i++) {
            Case c = cases.get(i);
            DummyInputs in = architecture.dummyInputs(config, c.batch(), c.sequence(), c.past(), 1234 + i);
            inputs.add(dtype == DType.FLOAT16 ? roundedToFloat16(in) : in);
        }
        // The reference first, kept as outputs only; its weights are freed before ONNX Runtime loads the file, so
        // the two engines never hold the model at once and the peak is one copy of the weights, not two.
        List<Map<String, HostTensor>> expected = new ArrayList<>();
        try (ReferenceRunner reference = new ReferenceRunner(architecture, config, weights)) {
            for (DummyInputs in : inputs) {
                Map<String, HostTensor> out = reference.run(in, task);
                if (lastLogitsOnly) {
                    String logits = architecture.spec().outputs().get(0).name();
                    out.put(logits, out.get(logits).lastPosition());
                }
                expected.add(out);
                progress.advance(1);
            }
        }
        // The reference's Java garbage (its traced inputs, intermediate arrays) is collected now, so that the heap can
        // shrink back before ONNX Runtime maps the weights, instead of adding to the peak.
        System.gc();
        List<ValidationCase> results = new ArrayList<>();
        try (OrtSession session = OrtSessions.open(modelFile, 0, true)) {
            for (int i = 0; i < cases.size(); i++) {
                Map<String, HostTensor> onnx = runOrt(session, architecture, inputs.get(i));
                Map<String, HostTensor> reference = expected.get(i);
                if (optimize == Optimize.ORT) {
                    HostTensor mask = inputs.get(i).get("attention_mask");
                    onnx = atRealPositions(onnx, mask);
                    reference = atRealPositions(reference, mask);
                }
                results.add(compare(cases.get(i).name(), reference, onnx, atol, rtol,
                        architecture.spec().outputs().get(0).name()));
                progress.advance(1);
            }
        } catch (OrtException e) {
            throw new StepwiseException(modelFile + ": ONNX Runtime failed: " + e.getMessage(), e);
        }
        progress.done();
        return results;
    }

    /**
     * Decoder outputs with zeros at padded positions: logits {@code [B, S, V]} at the queries and presents
     * {@code [B, KV, T, D]} at the keys whose slot of {@code mask} ({@code [B, T]}, the sequence axis aligned with the
     * mask's last slots) is 0. A fused-attention graph leaves a padded query's output undefined, as ONNX Runtime's
     * GroupQueryAttention computes it over the causal prefix only; every real position is still compared.
     */
    static Map<String, HostTensor> atRealPositions(Map<String, HostTensor> outputs, HostTensor mask) {
        int batch = (int) mask.dim(0);
        int total = (int) mask.dim(1);
        long[] keep = mask.longs();
        Map<String, HostTensor> out = new LinkedHashMap<>();
        for (Map.Entry<String, HostTensor> e : outputs.entrySet()) {
            HostTensor t = e.getValue();
            long[] shape = t.shape();
            int axis = shape.length - 2;                  // [B, S, V] -> 1; [B, KV, T, D] -> 2
            if (shape.length < 3 || shape[0] != batch || shape[axis] > total) {
                out.put(e.getKey(), t);
                continue;
            }
            float[] v = t.floats().clone();
            int positions = (int) shape[axis];
            int inner = (int) shape[shape.length - 1];
            int outer = (int) (HostTensor.elementCount(shape) / ((long) batch * positions * inner));
            for (int b = 0; b < batch; b++) {
                for (int o = 0; o < outer; o++) {
                    for (int p = 0; p < positions; p++) {
                        if (keep[b * total + total - positions + p] == 0) {
                            int start = ((b * outer + o) * positions + p) * inner;
                            java.util.Arrays.fill(v, start, start + inner, 0f);
                        }
                    }
                }
            }
            out.put(e.getKey(), HostTensor.ofFloats(v, shape));
        }
        return out;
    }

    /** Float inputs (past keys and values) replaced by their values rounded to float16. */
    static DummyInputs roundedToFloat16(DummyInputs in) {
        DummyInputs out = new DummyInputs();
        for (Map.Entry<String, HostTensor> e : in.all().entrySet()) {
            HostTensor t = e.getValue();
            if (t.type() == DType.FLOAT) {
                float[] v = t.floats().clone();
                for (int i = 0; i < v.length; i++) {
                    v[i] = HalfFloats.f16ToFloat(HalfFloats.floatToF16(v[i]));
                }
                t = HostTensor.ofFloats(v, t.shape());
            }
            out.put(e.getKey(), t);
        }
        return out;
    }

    /**
     * Runs a session on dummy inputs (only the inputs the graph declares, each converted to the element type the
     * graph declares for it) and copies every float output out (float16 widened).
     */
    public static Map<String, HostTensor> runOrt(OrtSession session, Architecture architecture, DummyInputs in)
            throws OrtException {
        return runOrt(session, architecture.spec().inputs(), architecture.spec().cache().type(), in);
    }

    /**
     * As above for any graph: inputs named in {@code declared} are fed as their declared type, any other (past
     * tensors) as {@code otherType}.
     */
    public static Map<String, HostTensor> runOrt(OrtSession session, List<TensorDecl> declaredInputs, DType otherType,
                                                 DummyInputs in) throws OrtException {
        OrtEnvironment env = OrtSessions.environment();
        Map<String, DType> declared = new HashMap<>();
        for (TensorDecl d : declaredInputs) {
            declared.put(d.name(), d.type());
        }
        Map<String, OnnxTensor> feed = new LinkedHashMap<>();
        try {
            for (Map.Entry<String, NodeInfo> e : session.getInputInfo().entrySet()) {
                String name = e.getKey();
                DType type = declared.getOrDefault(name, otherType);
                if (e.getValue().getInfo() instanceof TensorInfo info && info.type == OnnxJavaType.FLOAT16) {
                    type = DType.FLOAT16;
                }
                feed.put(name, OrtTensors.create(env, in.get(name), type));
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
        return compare(name, expected, actual, atol, 0, null);
    }

    /**
     * Per output, the max abs difference and the largest |reference|; with {@code rtol > 0}, also the greedy choice
     * at every position of {@code logitsName} whose reference top-2 margin is larger than the logits' tolerance.
     */
    static ValidationCase compare(String name, Map<String, HostTensor> expected, Map<String, HostTensor> actual,
                                  double atol, double rtol, String logitsName) {
        Map<String, Double> diffs = new LinkedHashMap<>();
        Map<String, Double> scales = new LinkedHashMap<>();
        for (Map.Entry<String, HostTensor> e : expected.entrySet()) {
            HostTensor got = actual.get(e.getKey());
            if (got == null) {
                throw new StepwiseException("validation: the ONNX graph has no output '" + e.getKey() + "'");
            }
            diffs.put(e.getKey(), maxAbsDiff(e.getKey(), e.getValue(), got));
            scales.put(e.getKey(), maxAbs(e.getValue()));
        }
        int compared = 0;
        int agreed = 0;
        if (rtol > 0 && logitsName != null && expected.containsKey(logitsName)) {
            HostTensor reference = expected.get(logitsName);
            float[] ref = reference.floats();
            float[] got = actual.get(logitsName).floats();
            int vocab = (int) reference.dim(reference.shape().length - 1);
            double tolerance = atol + rtol * scales.get(logitsName);
            for (int offset = 0; vocab > 1 && offset < ref.length; offset += vocab) {
                if (topTwoMargin(ref, offset, vocab) > tolerance) {
                    compared++;
                    if (Argmax.of(ref, offset, vocab) == Argmax.of(got, offset, vocab)) {
                        agreed++;
                    }
                }
            }
        }
        return new ValidationCase(name, diffs, atol, rtol, scales, compared, agreed);
    }

    private static double maxAbs(HostTensor t) {
        double m = 0;
        for (float v : t.floats()) {
            m = Math.max(m, Math.abs(v));
        }
        return m;
    }

    private static double topTwoMargin(float[] x, int offset, int n) {
        double first = Double.NEGATIVE_INFINITY;
        double second = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) {
            double v = x[offset + i];
            if (v > first) {
                second = first;
                first = v;
            } else if (v > second) {
                second = v;
            }
        }
        return first - second;
    }

    static double maxAbsDiff(String output, HostTensor expected, HostTensor actual) {
        if (!java.util.Arrays.equals(expected.shape(), actual.shape())) {
            throw new StepwiseException("validation: output '" + output + "' has shape "
                    + java.util.Arrays.toString(actual.shape()) + ", the reference has "
                    + java.util.Arrays.toString(expected.shape()));
        }
        return expected.maxAbsDiff(actual);
    }

    /** One line naming every output beyond tolerance, worst first. */
    /** Returns the cases when every one passed; otherwise the one-line failure, so the export writes nothing. */
    static List<ValidationCase> requirePassed(List<ValidationCase> cases) {
        if (!cases.stream().allMatch(ValidationCase::passed)) {
            throw new ValidationException(failureMessage(cases), cases);
        }
        return cases;
    }

    public static String failureMessage(List<ValidationCase> cases) {
        StringBuilder sb = new StringBuilder("validation failed against the PyTorch reference:");
        for (ValidationCase c : cases) {
            c.maxAbsDiff().entrySet().stream()
                    .filter(e -> !(e.getValue() <= c.tolerance(e.getKey())))
                    .sorted((x, y) -> Double.compare(y.getValue(), x.getValue()))
                    .limit(4)
                    .forEach(e -> sb.append(c.rtol() > 0
                            ? String.format(" [%s] %s max abs diff %.3g (%.2g of max |reference| %.3g) > tolerance %.3g"
                                    + " (atol %.1g + rtol %.1g x max |reference|);", c.name(), e.getKey(), e.getValue(),
                                    e.getValue() / c.maxAbsReference().get(e.getKey()),
                                    c.maxAbsReference().get(e.getKey()), c.tolerance(e.getKey()), c.atol(), c.rtol())
                            : String.format(" [%s] %s max abs diff %.3g > atol %.1g;", c.name(), e.getKey(),
                                    e.getValue(), c.atol())));
            if (c.argmaxAgreed() != c.argmaxCompared()) {
                sb.append(String.format(" [%s] greedy token differs at %d of %d positions with a clear top-2 margin;",
                        c.name(), c.argmaxCompared() - c.argmaxAgreed(), c.argmaxCompared()));
            }
        }
        return sb.toString();
    }
}
