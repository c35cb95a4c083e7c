package dev.stepwise.runtime.onnx;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.stepwise.runtime.checkpoint.MapWeightSource;
import dev.stepwise.runtime.onnx.proto.Onnx.GraphProto;
import dev.stepwise.runtime.onnx.proto.Onnx.NodeProto;
import dev.stepwise.runtime.onnx.proto.Onnx.ValueInfoProto;
import dev.stepwise.runtime.ops.Tensor;
import dev.stepwise.runtime.tensor.HostTensor;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;

/**
 * Traces a small forward twice — with symbolic input dims and with every dim fixed — runs both models in ONNX
 * Runtime and hands each run's outputs to the same check. The fixed trace must come out static.
 */
final class OpHarness {
    /** Ops that exist only to compute shapes; a fixed-dims trace must not contain any. */
    static final Set<String> SHAPE_OPS = Set.of("Shape", "Size", "ConstantOfShape", "Range");

    /** A graph input: its value, and per axis a dim_param for the symbolic trace (null keeps the axis fixed). */
    record Feed(String name, HostTensor value, List<String> axes) {
        static Feed of(String name, HostTensor value, String... axes) {
            return new Feed(name, value, java.util.Arrays.asList(axes));
        }
    }

    interface Body {
        Tensor[] trace(TracingOps ops, Tensor[] inputs);
    }

    /** What one run produced: outputs y0, y1, ... and the fixture (for node counts). */
    record Run(List<Ort.Out> outputs, TraceFixture fixture, boolean fixed) {
        Ort.Out y(int i) {
            return outputs.get(i);
        }
    }

    private OpHarness() {
    }

    static Run run(Path dir, int opset, boolean fixed, MapWeightSource weights, List<Feed> feeds, Body body) {
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        TraceFixture f = new TraceFixture(dir, opset, weights);
        Tensor[] ins = new Tensor[feeds.size()];
        Map<String, HostTensor> values = new LinkedHashMap<>();
        for (int i = 0; i < ins.length; i++) {
            Feed feed = feeds.get(i);
            List<Object> dims = new ArrayList<>();
            for (int a = 0; a < feed.value().shape().length; a++) {
                String param = a < feed.axes().size() ? feed.axes().get(a) : null;
                dims.add(fixed || param == null ? (Object) feed.value().shape()[a] : param);
            }
            ins[i] = f.ops.input(feed.name(), feed.value().type(), dims);
            values.put(feed.name(), feed.value());
        }
        Tensor[] outs = body.trace(f.ops, ins);
        for (int i = 0; i < outs.length; i++) {
            f.ops.output("y" + i, outs[i]);
        }
        Path model = f.save(false);
        if (fixed) {
            assertStatic(f.model.getGraph());
        }
        Map<String, Ort.Out> result = Ort.run(model, values);
        List<Ort.Out> list = new ArrayList<>();
        for (int i = 0; i < outs.length; i++) {
            list.add(result.get("y" + i));
        }
        return new Run(list, f, fixed);
    }

    /** Runs symbolic, then fixed, checking each. */
    static void both(Path dir, int opset, MapWeightSource weights, List<Feed> feeds, Body body, Consumer<Run> check) {
        check.accept(run(dir.resolve("symbolic"), opset, false, weights, feeds, body));
        check.accept(run(dir.resolve("fixed"), opset, true, weights, feeds, body));
    }

    static void both(Path dir, int opset, List<Feed> feeds, Body body, Consumer<Run> check) {
        both(dir, opset, new MapWeightSource(), feeds, body, check);
    }

    /** No shape op, every intermediate has a value_info, and every graph output has fixed dims. */
    static void assertStatic(GraphProto g) {
        Set<String> typed = new HashSet<>();
        g.getValueInfoList().forEach(v -> typed.add(v.getName()));
        g.getOutputList().forEach(v -> typed.add(v.getName()));
        for (NodeProto n : g.getNodeList()) {
            assertTrue(!SHAPE_OPS.contains(n.getOpType()), "fixed trace emitted " + n.getOpType() + " " + n.getName());
            for (String out : n.getOutputList()) {
                assertTrue(typed.contains(out), "no value_info for " + out + " (" + n.getOpType() + ")");
            }
        }
        for (ValueInfoProto v : g.getOutputList()) {
            v.getType().getTensorType().getShape().getDimList()
                    .forEach(d -> assertTrue(d.hasDimValue(), "output " + v.getName() + " has a non-fixed dim"));
        }
        for (ValueInfoProto v : g.getValueInfoList()) {
            v.getType().getTensorType().getShape().getDimList()
                    .forEach(d -> assertTrue(d.hasDimValue(), "value_info " + v.getName() + " has a non-fixed dim"));
        }
    }

    static void assertFloats(Ort.Out out, long[] shape, float[] expected, float tolerance) {
        assertArrayEquals(shape, out.shape(), "shape");
        assertEquals(expected.length, out.floats().length);
        for (int i = 0; i < expected.length; i++) {
            float e = expected[i];
            float a = out.floats()[i];
            assertTrue(Math.abs(e - a) <= tolerance * Math.max(1, Math.abs(e)),
                    "element " + i + ": expected " + e + ", got " + a);
        }
    }

    static void assertLongs(Ort.Out out, long[] shape, long[] expected) {
        assertArrayEquals(shape, out.shape(), "shape");
        assertArrayEquals(expected, out.longs());
    }

    static void assertBools(Ort.Out out, long[] shape, boolean[] expected) {
        assertArrayEquals(shape, out.shape(), "shape");
        assertArrayEquals(expected, out.bools());
    }

    /** Deterministic, varied test values. */
    static float[] values(int n, float scale, float seed) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) Math.sin(i * 0.731 + seed) * scale;
        }
        return v;
    }

    static HostTensor floats(float[] data, long... shape) {
        return HostTensor.ofFloats(data, shape);
    }

    static HostTensor longs(long[] data, long... shape) {
        return HostTensor.ofLongs(data, shape);
    }

    static long[] shape(long... dims) {
        return dims;
    }
}
