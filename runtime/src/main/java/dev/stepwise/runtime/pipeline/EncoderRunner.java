package dev.stepwise.runtime.pipeline;

import ai.onnxruntime.NodeInfo;
import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;
import dev.stepwise.annotations.DType;
import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.export.Exporter;
import dev.stepwise.runtime.generate.TextTokenizer;
import dev.stepwise.runtime.ort.OrtSessions;
import dev.stepwise.runtime.ort.OrtTensors;
import dev.stepwise.runtime.tensor.HostTensor;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The part every encoder pipeline shares: the folder's tokenizer and {@code model.onnx} session, and one run over a
 * batch of texts that feeds whichever of {@code input_ids}, {@code attention_mask}, {@code token_type_ids} and
 * {@code position_ids} the graph takes, and returns the one output the task reads.
 */
final class EncoderRunner implements AutoCloseable {
    /** A batch's tokens and the task output for them. */
    record Result(TokenBatch tokens, HostTensor output) {
    }

    private final Path folder;
    private final TextTokenizer tokenizer;
    private final TokenBatch.Padding padding;
    private final OrtSession session;
    private final String output;

    /** Opens {@code folder}; {@code output}/{@code rank} is what the task needs, checked against the graph. */
    EncoderRunner(Path folder, int threads, String task, String output, int rank) {
        this.folder = folder;
        Path model = folder.resolve(Exporter.MODEL_FILE);
        if (!Files.isRegularFile(model)) {
            throw new StepwiseException(folder + ": no " + Exporter.MODEL_FILE + " (expected an exported folder)");
        }
        if (!Files.isRegularFile(folder.resolve("tokenizer.json"))) {
            throw new StepwiseException(folder + ": no tokenizer.json (a pipeline tokenizes its input text with it)");
        }
        TextTokenizer t = TextTokenizer.open(folder);
        OrtSession s = null;
        try {
            padding = TokenBatch.Padding.of(folder);
            s = OrtSessions.open(model, threads);
            NodeInfo info = s.getOutputInfo().get(output);
            if (info == null || !(info.getInfo() instanceof TensorInfo ti) || ti.getShape().length != rank) {
                throw new StepwiseException(model + ": " + task + " needs an output '" + output + "' of rank " + rank
                        + ", the graph has " + describe(s) + " (was the folder exported for " + task + "?)");
            }
            for (String in : s.getInputNames()) {
                if (!List.of("input_ids", "attention_mask", "token_type_ids", "position_ids").contains(in)) {
                    throw new StepwiseException(model + ": input '" + in + "' is not an encoder input (expected"
                            + " input_ids, attention_mask, token_type_ids, position_ids)");
                }
            }
        } catch (OrtException e) {
            t.close();
            throw new StepwiseException(model + ": ONNX Runtime cannot describe the graph: " + e.getMessage(), e);
        } catch (RuntimeException e) {
            t.close();
            if (s != null) {
                try {
                    s.close();
                } catch (OrtException ignored) {
                    // already failing
                }
            }
            throw e;
        }
        this.tokenizer = t;
        this.session = s;
        this.output = output;
    }

    TextTokenizer tokenizer() {
        return tokenizer;
    }

    Path folder() {
        return folder;
    }

    Result run(List<String> texts) {
        TokenBatch tokens = TokenBatch.of(tokenizer, padding, texts);
        Map<String, OnnxTensor> feed = new LinkedHashMap<>();
        try {
            for (Map.Entry<String, NodeInfo> e : session.getInputInfo().entrySet()) {
                HostTensor value = switch (e.getKey()) {
                    case "input_ids" -> tokens.inputIds();
                    case "attention_mask" -> tokens.attentionMask();
                    case "token_type_ids" -> tokens.tokenTypeIds();
                    default -> tokens.positionIds();
                };
                DType type = e.getValue().getInfo() instanceof TensorInfo ti && ti.type == OnnxJavaType.INT32
                        ? DType.INT32 : DType.INT64;
                feed.put(e.getKey(), OrtTensors.create(OrtSessions.environment(), value, type));
            }
            try (OrtSession.Result result = session.run(feed, java.util.Set.of(output))) {
                return new Result(tokens, OrtTensors.toHostFloats((OnnxTensor) result.get(0)));
            }
        } catch (OrtException e) {
            throw new StepwiseException(folder.resolve(Exporter.MODEL_FILE) + ": ONNX Runtime failed: " + e.getMessage(), e);
        } finally {
            feed.values().forEach(OnnxTensor::close);
        }
    }

    /** Runs {@code texts} in batches of {@code batchSize}, handing each batch's result to {@code each}. */
    void runBatches(List<String> texts, int batchSize, java.util.function.Consumer<Result> each) {
        TokenBatch.requireTexts(texts);
        for (int from = 0; from < texts.size(); from += batchSize) {
            each.accept(run(texts.subList(from, Math.min(texts.size(), from + batchSize))));
        }
    }

    private static String describe(OrtSession s) throws OrtException {
        List<String> outs = new ArrayList<>();
        for (Map.Entry<String, NodeInfo> e : s.getOutputInfo().entrySet()) {
            String shape = e.getValue().getInfo() instanceof TensorInfo ti ? " (rank " + ti.getShape().length + ")" : "";
            outs.add("'" + e.getKey() + "'" + shape);
        }
        return "outputs " + String.join(", ", outs);
    }

    @Override
    public void close() {
        tokenizer.close();
        try {
            session.close();
        } catch (OrtException e) {
            throw new StepwiseException(folder + ": cannot close the ONNX Runtime session: " + e.getMessage(), e);
        }
    }
}
