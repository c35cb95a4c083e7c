package dev.stepwise.runtime.onnx;

import dev.stepwise.runtime.checkpoint.MapWeightSource;
import dev.stepwise.runtime.checkpoint.WeightSource;
import dev.stepwise.runtime.onnx.proto.Onnx.ModelProto;
import java.nio.file.Path;

/** A tracer writing into a folder: graph, weights streamed to model.onnx_data, and a save step. */
final class TraceFixture {
    static final String MODEL = "model.onnx";
    static final String DATA = "model.onnx_data";

    final Path dir;
    final GraphBuilder graph;
    final ExternalDataWriter sink;
    final TracingOps ops;
    ModelProto model;

    TraceFixture(Path dir, int opset, WeightSource weights) {
        this.dir = dir;
        this.graph = new GraphBuilder("test", opset);
        this.sink = new ExternalDataWriter(dir.resolve(DATA));
        this.ops = new TracingOps(graph, weights, sink);
    }

    TraceFixture(Path dir, int opset) {
        this(dir, opset, new MapWeightSource());
    }

    /** Builds the model with value_infos and writes it; weights inline unless {@code external}. */
    Path save(boolean external) {
        sink.close();
        model = graph.build(true);
        return OnnxModelWriter.write(model, dir, MODEL, DATA, external);
    }

    long count(String opType) {
        return graph.nodes().stream().filter(n -> n.getOpType().equals(opType)).count();
    }
}
