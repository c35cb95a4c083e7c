package dev.stepwise.models;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.stepwise.runtime.onnx.OnnxModelReader;
import dev.stepwise.runtime.onnx.passes.GraphChecker;
import dev.stepwise.runtime.onnx.passes.OpCounts;
import dev.stepwise.runtime.onnx.passes.StaticGraphOptimizer;
import dev.stepwise.runtime.onnx.passes.TensorType;
import dev.stepwise.runtime.onnx.proto.Onnx.ModelProto;
import dev.stepwise.runtime.onnx.proto.Onnx.StringStringEntryProto;
import dev.stepwise.runtime.onnx.proto.Onnx.TensorProto;
import dev.stepwise.runtime.onnx.proto.Onnx.ValueInfoProto;
import dev.stepwise.runtime.simplify.Simplifier;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;

/** Checks every simplify test makes of its output folder. */
final class SimplifyAsserts {
    private SimplifyAsserts() {
    }

    /** The folder holds exactly the step graphs, at most one weights file and the report. */
    static void assertFolder(Simplifier.Result r, int steps) throws IOException {
        Set<String> expected = new HashSet<>();
        for (int s = 0; s < steps; s++) {
            expected.add(Simplifier.stepFileName(s));
        }
        expected.add(Simplifier.REPORT_FILE);
        if (r.weightsFile() != null) {
            expected.add(r.weightsFile());
        }
        Set<String> actual = new HashSet<>();
        try (Stream<Path> files = Files.list(r.output())) {
            files.forEach(f -> actual.add(f.getFileName().toString()));
        }
        assertEquals(expected, actual);
        assertEquals(steps, r.steps().size());
    }

    /** No shape op, every value has fixed dims, ONNX's rules hold, weights only in the shared file. */
    static ModelProto assertStaticStep(Simplifier.Result r, int step) {
        Path file = r.output().resolve(Simplifier.stepFileName(step));
        OnnxModelReader reader = OnnxModelReader.load(file);
        ModelProto m = reader.model();
        Map<String, Integer> ops = OpCounts.of(m);
        for (String op : StaticGraphOptimizer.SHAPE_OPS) {
            assertFalse(ops.containsKey(op), file + " still has " + op + ": " + ops);
        }
        assertFalse(ops.containsKey("Identity"), file + " has Identity nodes");
        assertFalse(ops.containsKey("Constant"), file + " has Constant nodes");
        assertEquals(List.of(), StaticGraphOptimizer.staticProblems(m), file.toString());
        assertEquals(List.of(), GraphChecker.check(m, file.getParent()), file.toString());
        for (TensorProto t : m.getGraph().getInitializerList()) {
            if (OnnxModelReader.isExternal(t)) {
                assertEquals(r.weightsFile(), location(t), t.getName());
            } else {
                assertTrue(t.getSerializedSize() < 2048, t.getName() + " is inline and large");
            }
        }
        return m;
    }

    static String location(TensorProto t) {
        for (StringStringEntryProto e : t.getExternalDataList()) {
            if (e.getKey().equals("location")) {
                return e.getValue();
            }
        }
        return null;
    }

    static TensorType input(ModelProto m, String name) {
        for (ValueInfoProto v : m.getGraph().getInputList()) {
            if (v.getName().equals(name)) {
                return TensorType.fromValueInfo(v);
            }
        }
        return null;
    }

    static TensorType output(ModelProto m, String name) {
        for (ValueInfoProto v : m.getGraph().getOutputList()) {
            if (v.getName().equals(name)) {
                return TensorType.fromValueInfo(v);
            }
        }
        return null;
    }
}
