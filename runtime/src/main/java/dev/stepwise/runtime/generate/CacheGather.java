package dev.stepwise.runtime.generate;

import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.model.CacheDecl;
import dev.stepwise.runtime.onnx.Attributes;
import dev.stepwise.runtime.onnx.GraphBuilder;
import dev.stepwise.runtime.onnx.proto.Onnx.TensorProto;
import dev.stepwise.runtime.ort.OrtSessions;
import dev.stepwise.runtime.ort.OrtTensors;
import java.nio.LongBuffer;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Reorders the rows of every KV-cache tensor for beam search with a small in-memory ONNX graph: one {@code Gather}
 * along the cache's batch axis per past tensor, all sharing one int64 {@code beam_idx} input. The cache never leaves
 * native memory: ONNX Runtime reads the decoder's present tensors and writes the reordered ones, which become the next
 * past inputs. (The alternative, copying each tensor through a Java array and back, moves the whole cache across the
 * JNI boundary twice per step and allocates as much on the Java heap; the Gather session costs one extra
 * {@code run} call per step and a second, tiny session.)
 */
public final class CacheGather implements AutoCloseable {
    static final String INDEX = "beam_idx";

    private final OrtSession session;
    private final OrtEnvironment env = OrtSessions.environment();
    private final List<String> pastNames = new ArrayList<>();
    private final Map<String, String> outputOf = new LinkedHashMap<>();

    /** For the {@code layers} key/value pairs of {@code cache}, whose tensors have element type {@code type}. */
    public CacheGather(CacheDecl cache, int layers, OnnxJavaType type) {
        int axis = cache.axes().indexOf("batch_size");
        if (axis < 0) {
            throw new StepwiseException("the KV cache has no batch_size axis, so beam search cannot reorder it");
        }
        // the graph's own cache type: an fp16 export has fp16 past whatever the annotation declares
        int elemType = OrtTensors.onnxFloatType(type);
        GraphBuilder g = new GraphBuilder("stepwise_cache_gather", 13);
        g.addInput(GraphBuilder.tensorInfo(INDEX, TensorProto.DataType.INT64_VALUE, List.of("rows")));
        List<Object> dims = new ArrayList<>();
        for (int i = 0; i < cache.axes().size(); i++) {
            dims.add("d" + i);
        }
        for (int l = 0; l < layers; l++) {
            for (String kind : new String[] {"key", "value"}) {
                String name = cache.pastName(l, kind);
                pastNames.add(name);
                g.addInput(GraphBuilder.tensorInfo(name, elemType, dims));
                String out = g.addNode("Gather", List.of(name, INDEX), Attributes.of("axis", axis));
                g.addOutput(GraphBuilder.tensorInfo(out, elemType, nullDims(dims.size())));
                outputOf.put(name, out);
            }
        }
        try {
            OrtSession.SessionOptions options = new OrtSession.SessionOptions();
            options.setIntraOpNumThreads(1);
            options.setInterOpNumThreads(1);
            session = env.createSession(g.build(false).toByteArray(), options);
        } catch (OrtException e) {
            throw new StepwiseException("cannot build the KV-cache reorder graph: " + e.getMessage(), e);
        }
    }

    private static List<Object> nullDims(int n) {
        List<Object> d = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            d.add(null);
        }
        return d;
    }

    /** The reordered past (row i = old row from[i]) and the result that owns its tensors. */
    public record Gathered(Map<String, OnnxTensor> values, AutoCloseable owner) {
    }

    public Gathered apply(Map<String, OnnxTensor> past, int[] from) {
        long[] index = new long[from.length];
        for (int i = 0; i < from.length; i++) {
            index[i] = from[i];
        }
        try (OnnxTensor idx = OnnxTensor.createTensor(env, LongBuffer.wrap(index), new long[] {from.length})) {
            Map<String, OnnxTensor> feed = new LinkedHashMap<>();
            for (String name : pastNames) {
                feed.put(name, past.get(name));
            }
            feed.put(INDEX, idx);
            OrtSession.Result result = session.run(feed);
            Map<String, OnnxTensor> out = new LinkedHashMap<>();
            for (String name : pastNames) {
                out.put(name, (OnnxTensor) result.get(outputOf.get(name)).orElseThrow());
            }
            return new Gathered(out, result);
        } catch (OrtException e) {
            throw new StepwiseException("ONNX Runtime failed to reorder the KV cache: " + e.getMessage(), e);
        }
    }

    @Override
    public void close() {
        try {
            session.close();
        } catch (OrtException e) {
            // nothing left to do with a session that fails to close
        }
    }
}
