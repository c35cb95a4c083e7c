package dev.stepwise.runtime.onnx.passes;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.stepwise.runtime.onnx.GraphBuilder;
import dev.stepwise.runtime.onnx.proto.Onnx.AttributeProto;
import dev.stepwise.runtime.onnx.proto.Onnx.GraphProto;
import dev.stepwise.runtime.onnx.proto.Onnx.ModelProto;
import dev.stepwise.runtime.onnx.proto.Onnx.NodeProto;
import dev.stepwise.runtime.onnx.proto.Onnx.OperatorSetIdProto;
import dev.stepwise.runtime.onnx.proto.Onnx.TensorProto.DataType;
import dev.stepwise.runtime.onnx.proto.Onnx.TypeProto;
import dev.stepwise.runtime.onnx.proto.Onnx.ValueInfoProto;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * One node on small inputs, checked against ONNX Runtime: {@link #checkShapes} compares inferred output types with
 * what ORT produces; {@link #checkFolding} makes every input a constant and compares the folded values with ORT's.
 */
final class OpCase {
    static final int F = DataType.FLOAT_VALUE;
    static final int H = DataType.FLOAT16_VALUE;
    static final int I64 = DataType.INT64_VALUE;
    static final int I32 = DataType.INT32_VALUE;
    static final int B = DataType.BOOL_VALUE;

    private final String op;
    private String domain = "";
    private int opset = 17;
    private final List<ConstTensor> inputs = new ArrayList<>();
    private final List<Boolean> constant = new ArrayList<>();
    private final List<AttributeProto> attrs = new ArrayList<>();
    private int outputs = 1;
    private final List<Integer> skippedOutputs = new ArrayList<>();
    private static final Random RANDOM = new Random(7);

    private OpCase(String op) {
        this.op = op;
    }

    static OpCase op(String op) {
        return new OpCase(op);
    }

    static OpCase ms(String op) {
        OpCase c = new OpCase(op);
        c.domain = "com.microsoft";
        return c;
    }

    OpCase opset(int v) {
        opset = v;
        return this;
    }

    /** A runtime input with random values. */
    OpCase in(int type, long... dims) {
        return in(random(type, dims));
    }

    OpCase in(ConstTensor value) {
        inputs.add(value);
        constant.add(false);
        return this;
    }

    /** An input given as an initializer. */
    OpCase constant(ConstTensor value) {
        inputs.add(value);
        constant.add(true);
        return this;
    }

    OpCase none() {
        inputs.add(null);
        constant.add(false);
        return this;
    }

    OpCase attr(AttributeProto a) {
        attrs.add(a);
        return this;
    }

    OpCase outputs(int n) {
        outputs = n;
        return this;
    }

    OpCase skipOutput(int i) {
        skippedOutputs.add(i);
        return this;
    }

    static ConstTensor random(int type, long... dims) {
        int n = (int) Arrays.stream(dims).reduce(1, (a, b) -> a * b);
        double[] v = new double[n];
        for (int i = 0; i < n; i++) {
            v[i] = switch (type) {
                case DataType.BOOL_VALUE -> RANDOM.nextBoolean() ? 1 : 0;
                case DataType.INT64_VALUE, DataType.INT32_VALUE -> RANDOM.nextInt(5);
                default -> RANDOM.nextDouble() * 2 - 1;
            };
        }
        return ConstTensor.ofDoubles(type, dims, v);
    }

    private ModelProto model(boolean allConstant, Map<String, ConstTensor> feeds, List<TensorType> outTypes) {
        GraphProto.Builder g = GraphProto.newBuilder().setName(op);
        NodeProto.Builder node = NodeProto.newBuilder().setOpType(op).setDomain(domain).setName(op + "_node");
        for (int i = 0; i < inputs.size(); i++) {
            ConstTensor v = inputs.get(i);
            if (v == null) {
                node.addInput("");
                continue;
            }
            String name = "x" + i;
            node.addInput(name);
            if (allConstant || constant.get(i)) {
                g.addInitializer(v.toProto(name));
            } else {
                g.addInput(GraphBuilder.tensorInfo(name, v.elemType(), v.dims()));
                feeds.put(name, v);
            }
        }
        for (int j = 0; j < outputs; j++) {
            if (skippedOutputs.contains(j)) {
                node.addOutput("");
                continue;
            }
            node.addOutput("y" + j);
            ValueInfoProto.Builder out = ValueInfoProto.newBuilder().setName("y" + j);
            if (outTypes != null) {
                out.setType(TypeProto.newBuilder().setTensorType(TypeProto.Tensor.newBuilder()
                        .setElemType(outTypes.get(j).elemType())));
            }
            g.addOutput(out);
        }
        node.addAllAttribute(attrs);
        g.addNode(node);
        ModelProto.Builder m = ModelProto.newBuilder().setIrVersion(8).setProducerName("test")
                .addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("").setVersion(opset));
        if (!domain.isEmpty()) {
            m.addOpsetImport(OperatorSetIdProto.newBuilder().setDomain(domain).setVersion(1));
        }
        return m.setGraph(g).build();
    }

    /** Inferred types of the outputs; asserts ORT computes outputs of exactly those types. Returns them. */
    List<TensorType> checkShapes(Path dir) {
        Map<String, ConstTensor> feeds = new LinkedHashMap<>();
        ModelProto bare = model(false, feeds, null);
        Map<String, TensorType> types = ShapeInference.infer(bare, null);
        List<TensorType> outTypes = new ArrayList<>();
        for (int j = 0; j < outputs; j++) {
            outTypes.add(skippedOutputs.contains(j) ? null : types.get("y" + j));
        }
        ModelProto typed = model(false, new LinkedHashMap<>(), fill(outTypes));
        Map<String, ConstTensor> ort = OrtRunner.run(typed, dir, feeds);
        for (int j = 0; j < outputs; j++) {
            if (skippedOutputs.contains(j)) {
                continue;
            }
            ConstTensor actual = ort.get("y" + j);
            assertEquals(actual.type(), outTypes.get(j), op + " output " + j + ": inferred vs ONNX Runtime");
        }
        return outTypes;
    }

    private static List<TensorType> fill(List<TensorType> types) {
        List<TensorType> out = new ArrayList<>();
        for (TensorType t : types) {
            out.add(t == null ? TensorType.of(DataType.FLOAT_VALUE) : t);
        }
        return out;
    }

    /** Folds the node with every input constant; the folded initializers equal ORT's outputs. */
    void checkFolding(Path dir) {
        Map<String, ConstTensor> none = new LinkedHashMap<>();
        ModelProto bare = model(true, none, null);
        Map<String, TensorType> types = ShapeInference.infer(bare, null);
        List<TensorType> outTypes = new ArrayList<>();
        for (int j = 0; j < outputs; j++) {
            outTypes.add(skippedOutputs.contains(j) ? TensorType.of(F) : types.get("y" + j));
        }
        ModelProto typed = model(true, none, outTypes);
        ConstantFolding.Result folded = ConstantFolding.run(typed, null, 1 << 20);
        assertEquals(1, folded.foldedNodes(), op + " was not folded");
        assertEquals(0, folded.model().getGraph().getNodeCount());
        Map<String, ConstTensor> ort = OrtRunner.run(typed, dir, Map.of());
        for (var t : folded.model().getGraph().getInitializerList()) {
            if (!t.getName().startsWith("y")) {
                continue;
            }
            ConstTensor mine = ConstTensor.fromProto(t, t.getRawData().asReadOnlyByteBuffer());
            ConstTensor theirs = ort.get(t.getName());
            assertEquals(theirs.type(), mine.type(), op + " " + t.getName() + " type");
            double[] a = theirs.toDoubles();
            double[] b = mine.toDoubles();
            for (int i = 0; i < a.length; i++) {
                double tol = 1e-6 * Math.max(1, Math.abs(a[i])) + (mine.elemType() == H ? 1e-3 : 0);
                assertTrue(a[i] == b[i] || Math.abs(a[i] - b[i]) <= tol || (Double.isNaN(a[i]) && Double.isNaN(b[i])),
                        op + " " + t.getName() + "[" + i + "]: folded " + b[i] + ", ONNX Runtime " + a[i]);
            }
        }
    }

    static long[] dims(long... d) {
        return d;
    }

    static void assertDims(TensorType t, long... dims) {
        assertArrayEquals(dims, t.dims(), t.toString());
    }
}
