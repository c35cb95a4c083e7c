package dev.stepwise.runtime.simplify;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.io.OutputFolder;
import dev.stepwise.runtime.onnx.GraphBuilder;
import dev.stepwise.runtime.onnx.OnnxModelReader;
import dev.stepwise.runtime.onnx.passes.ConstTensor;
import dev.stepwise.runtime.onnx.passes.OpCounts;
import dev.stepwise.runtime.onnx.passes.OpsetCheck;
import dev.stepwise.runtime.onnx.passes.SharedExternalData;
import dev.stepwise.runtime.onnx.passes.StaticGraphOptimizer;
import dev.stepwise.runtime.onnx.passes.TensorType;
import dev.stepwise.runtime.onnx.proto.Onnx.GraphProto;
import dev.stepwise.runtime.onnx.proto.Onnx.ModelProto;
import dev.stepwise.runtime.onnx.proto.Onnx.TensorProto;
import dev.stepwise.runtime.onnx.proto.Onnx.TensorProto.DataType;
import dev.stepwise.runtime.onnx.proto.Onnx.ValueInfoProto;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;

/**
 * {@code simplify}: turns a foreign dynamic decoder (an optimum-style {@code model.onnx} with
 * {@code past_key_values.*} inputs, onnxruntime-genai's, or a merged decoder with an If on {@code use_cache_branch})
 * into one static graph per generation step, {@code decoder_model-opt_gen_step=s.onnx}, all sharing one weights
 * file, verified against the original in ONNX Runtime before the folder appears.
 */
public final class Simplifier {
    public static final String REPORT_FILE = "simplify-report.json";
    public static final String WEIGHTS_FILE = "model.onnx_data";
    /** Inline initializers at least this large go to the shared weights file. */
    static final long MIN_EXTERNAL_BYTES = 1024;

    /** What to simplify and how. NaN tolerances mean: by the logits' element type. */
    public record Options(int batch, int sequence, int maxNewTokens, boolean opsetCheck, boolean verify,
                          double rtol, double atol, long seed, int threads) {
        public static Options of(int batch, int sequence, int maxNewTokens) {
            return new Options(batch, sequence, maxNewTokens, false, true, Double.NaN, Double.NaN, 42, 1);
        }

        public Options withOpsetCheck(boolean check) {
            return new Options(batch, sequence, maxNewTokens, check, verify, rtol, atol, seed, threads);
        }

        public Options withVerify(boolean v) {
            return new Options(batch, sequence, maxNewTokens, opsetCheck, v, rtol, atol, seed, threads);
        }

        public Options withTolerance(double r, double a) {
            return new Options(batch, sequence, maxNewTokens, opsetCheck, verify, r, a, seed, threads);
        }

        public Options withThreads(int t) {
            return new Options(batch, sequence, maxNewTokens, opsetCheck, verify, rtol, atol, seed, t);
        }
    }

    /** One written step graph. */
    public record Step(int step, String file, long bytes, Map<String, long[]> inputs, SortedMap<String, Integer> ops,
                       Map<String, Double> maxAbsDiff) {
    }

    /** The result: the folder, the original's op counts, the steps, the shared weights file and its size. */
    public record Result(Path output, SortedMap<String, Integer> sourceOps, List<Step> steps, String weightsFile,
                         long weightsBytes, double rtol, double atol, List<long[]> tokens, String report) {
        public long totalBytes() {
            return weightsBytes + steps.stream().mapToLong(Step::bytes).sum();
        }
    }

    private Simplifier() {
    }

    public static String stepFileName(int step) {
        return "decoder_model-opt_gen_step=" + step + ".onnx";
    }

    public static Result run(Path modelFile, Path output, Options options) {
        if (options.batch() < 1 || options.sequence() < 1 || options.maxNewTokens() < 1) {
            throw new StepwiseException("--batch-size, --sequence-length and --max-new-tokens must be at least 1");
        }
        if (!Files.isRegularFile(modelFile)) {
            throw new StepwiseException(modelFile + ": no such ONNX file");
        }
        OnnxModelReader reader = OnnxModelReader.load(modelFile);
        ModelProto source = reader.model();
        String file = modelFile.getFileName().toString();
        if (!source.hasGraph() || source.getGraph().getNodeCount() == 0 || source.getOpsetImportCount() == 0) {
            throw new StepwiseException(modelFile + " is not an ONNX model (no graph or no opset import)");
        }
        DecoderSignature signature = DecoderSignature.of(source.getGraph(), file);
        Path sourceDir = reader.directory();
        SortedMap<String, Integer> sourceOps = OpCounts.of(source);

        try (OutputFolder folder = OutputFolder.create(output)) {
            Path dir = folder.path();
            List<Step> steps = new ArrayList<>();
            List<Path> stepFiles = new ArrayList<>();
            int logitsType = 0;
            long vocab = 0;
            try (SharedExternalData weights = new SharedExternalData(dir.resolve(WEIGHTS_FILE), MIN_EXTERNAL_BYTES)) {
                for (int s = 0; s < options.maxNewTokens(); s++) {
                    int seq = s == 0 ? options.sequence() : 1;
                    int past = s == 0 ? 0 : options.sequence() + s - 1;
                    Map<String, long[]> dims = signature.dimsFor(options.batch(), seq, past, file);
                    ModelProto fixed = fixInputs(source, signature, dims, s > 0);
                    ModelProto optimized;
                    try {
                        optimized = StaticGraphOptimizer.optimize(fixed, sourceDir,
                                StaticGraphOptimizer.Options.DEFAULT.withDropUnusedInputs(true));
                    } catch (StepwiseException e) {
                        throw new StepwiseException(file + ", gen step " + s + ": " + e.getMessage(), e);
                    }
                    if (options.opsetCheck()) {
                        List<String> problems = OpsetCheck.check(optimized);
                        if (!problems.isEmpty()) {
                            throw new StepwiseException(file + ", gen step " + s + ": " + problems.get(0));
                        }
                    }
                    optimized = withProducer(optimized, s);
                    ModelProto shared = weights.share(optimized, sourceDir);
                    Path stepFile = dir.resolve(stepFileName(s));
                    write(shared, stepFile);
                    stepFiles.add(stepFile);
                    Map<String, long[]> stepInputs = new LinkedHashMap<>();
                    for (ValueInfoProto in : shared.getGraph().getInputList()) {
                        stepInputs.put(in.getName(), TensorType.fromValueInfo(in).dims());
                    }
                    for (ValueInfoProto out : shared.getGraph().getOutputList()) {
                        if (out.getName().equals(signature.logits())) {
                            TensorType t = TensorType.fromValueInfo(out);
                            logitsType = t.elemType();
                            vocab = t.dim(-1);
                        }
                    }
                    steps.add(new Step(s, stepFile.getFileName().toString(), size(stepFile), stepInputs,
                            OpCounts.of(shared), Map.of()));
                }
                weights.close();
                double rtol = !Double.isNaN(options.rtol()) ? options.rtol()
                        : logitsType == DataType.FLOAT16_VALUE || logitsType == DataType.BFLOAT16_VALUE ? 1e-3 : 1e-4;
                double atol = !Double.isNaN(options.atol()) ? options.atol()
                        : logitsType == DataType.FLOAT16_VALUE || logitsType == DataType.BFLOAT16_VALUE ? 1e-3 : 1e-4;
                List<long[]> tokens = new ArrayList<>();
                if (options.verify()) {
                    StepChain chain = new StepChain(signature, options.batch(), options.sequence(), rtol, atol,
                            options.threads());
                    List<StepChain.StepCheck> checks = chain.verify(modelFile, stepFiles, vocab, options.seed());
                    for (int i = 0; i < steps.size(); i++) {
                        Step st = steps.get(i);
                        steps.set(i, new Step(st.step(), st.file(), st.bytes(), st.inputs(), st.ops(),
                                checks.get(i).maxAbsDiff()));
                        tokens.add(checks.get(i).tokens());
                    }
                }
                long weightsBytes = size(weights.file());
                if (weightsBytes == 0) {
                    Files.deleteIfExists(weights.file());
                }
                Result provisional = new Result(folder.target(), sourceOps, steps,
                        weightsBytes == 0 ? null : WEIGHTS_FILE, weightsBytes, rtol, atol, tokens, null);
                String json = report(modelFile, options, provisional, options.verify());
                Files.writeString(dir.resolve(REPORT_FILE), json);
                folder.commit();
                return new Result(folder.target(), sourceOps, steps, provisional.weightsFile(), weightsBytes, rtol,
                        atol, tokens, json);
            }
        } catch (IOException e) {
            throw new StepwiseException("cannot write " + output + ": " + e.getMessage(), e);
        }
    }

    /** The source model with every input fixed for one step, and {@code use_cache_branch} a constant. */
    static ModelProto fixInputs(ModelProto source, DecoderSignature signature, Map<String, long[]> dims,
                                boolean useCache) {
        GraphProto.Builder g = source.getGraph().toBuilder().clearInput();
        for (ValueInfoProto in : source.getGraph().getInputList()) {
            DecoderSignature.Input role = signature.inputs().get(in.getName());
            if (role.role() == DecoderSignature.Role.USE_CACHE_BRANCH) {
                TensorProto value = ConstTensor.ofLongs(role.elemType(), dims.get(in.getName()),
                        new long[] {useCache ? 1 : 0}).toProto(in.getName());
                g.addInitializer(value);
                continue;
            }
            g.addInput(GraphBuilder.tensorInfo(in.getName(), role.elemType(), dims.get(in.getName())));
        }
        return source.toBuilder().setGraph(g).build();
    }

    private static ModelProto withProducer(ModelProto m, int step) {
        GraphProto g = m.getGraph().toBuilder().setName(m.getGraph().getName().isEmpty() ? "decoder_gen_step_" + step
                : m.getGraph().getName() + "_gen_step_" + step).build();
        return m.toBuilder().setGraph(g).build();
    }

    private static void write(ModelProto m, Path file) {
        try (OutputStream out = Files.newOutputStream(file)) {
            m.writeTo(out);
        } catch (IOException e) {
            throw new StepwiseException("cannot write " + file + ": " + e.getMessage(), e);
        }
    }

    private static long size(Path p) {
        try {
            return Files.size(p);
        } catch (IOException e) {
            throw new StepwiseException("cannot read " + p + ": " + e.getMessage(), e);
        }
    }

    private static String report(Path source, Options options, Result r, boolean verified) {
        JsonObject root = new JsonObject();
        root.addProperty("source", source.toString());
        root.addProperty("batch_size", options.batch());
        root.addProperty("sequence_length", options.sequence());
        root.addProperty("max_new_tokens", options.maxNewTokens());
        root.add("source_ops", counts(r.sourceOps()));
        root.addProperty("source_nodes", OpCounts.total(r.sourceOps()));
        JsonArray steps = new JsonArray();
        for (Step s : r.steps()) {
            JsonObject o = new JsonObject();
            o.addProperty("gen_step", s.step());
            o.addProperty("file", s.file());
            o.addProperty("bytes", s.bytes());
            o.addProperty("nodes", OpCounts.total(s.ops()));
            JsonObject inputs = new JsonObject();
            s.inputs().forEach((k, v) -> {
                JsonArray a = new JsonArray();
                for (long d : v) {
                    a.add(d);
                }
                inputs.add(k, a);
            });
            o.add("inputs", inputs);
            o.add("ops", counts(s.ops()));
            JsonObject diffs = new JsonObject();
            s.maxAbsDiff().forEach(diffs::addProperty);
            o.add("max_abs_diff", diffs);
            steps.add(o);
        }
        root.add("steps", steps);
        root.addProperty("weights_file", r.weightsFile());
        root.addProperty("weights_bytes", r.weightsBytes());
        root.addProperty("total_bytes", r.totalBytes());
        root.addProperty("verified", verified);
        root.addProperty("rtol", r.rtol());
        root.addProperty("atol", r.atol());
        JsonArray tokens = new JsonArray();
        for (long[] t : r.tokens()) {
            JsonArray a = new JsonArray();
            for (long v : t) {
                a.add(v);
            }
            tokens.add(a);
        }
        root.add("greedy_tokens", tokens);
        return new GsonBuilder().setPrettyPrinting().create().toJson(root) + "\n";
    }

    private static JsonObject counts(Map<String, Integer> c) {
        JsonObject o = new JsonObject();
        c.forEach(o::addProperty);
        return o;
    }

    /** The printed summary: op counts per step against the source, then file sizes. */
    public static String summary(Result r) {
        Map<String, Map<String, Integer>> columns = new LinkedHashMap<>();
        columns.put("source", r.sourceOps());
        for (Step s : r.steps()) {
            columns.put("step " + s.step(), s.ops());
        }
        StringBuilder sb = new StringBuilder(OpCounts.table(columns));
        sb.append('\n');
        for (Step s : r.steps()) {
            sb.append(String.format("%-40s %12d bytes%s%n", s.file(), s.bytes(), s.maxAbsDiff().isEmpty() ? ""
                    : String.format("   max abs diff vs original %.2e", s.maxAbsDiff().values().stream()
                            .mapToDouble(Double::doubleValue).max().orElse(0))));
        }
        if (r.weightsFile() != null) {
            sb.append(String.format("%-40s %12d bytes (shared by all steps)%n", r.weightsFile(), r.weightsBytes()));
        }
        sb.append(String.format("%-40s %12d bytes%n", "total", r.totalBytes()));
        return sb.toString();
    }
}
