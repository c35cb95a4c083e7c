package dev.stepwise.runtime.onnx.passes;

import static dev.stepwise.runtime.onnx.passes.OpCase.B;
import static dev.stepwise.runtime.onnx.passes.OpCase.F;
import static dev.stepwise.runtime.onnx.passes.OpCase.H;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.stepwise.runtime.onnx.Attributes;
import dev.stepwise.runtime.onnx.GraphBuilder;
import dev.stepwise.runtime.onnx.proto.Onnx.ModelProto;
import dev.stepwise.runtime.onnx.proto.Onnx.NodeProto;
import dev.stepwise.runtime.onnx.proto.Onnx.TensorProto;
import dev.stepwise.runtime.onnx.proto.Onnx.TypeProto;
import dev.stepwise.runtime.onnx.proto.Onnx.ValueInfoProto;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Each fusion on small hand-built graphs: the node counts it leaves, and ONNX Runtime's outputs before and after on
 * random inputs — bit for bit where the fusion is exact (tolerance 0), else within the tolerance each test states
 * (relative to max(1, |expected|)). Every fused graph also passes {@link GraphChecker} and {@link OpsetCheck}: it
 * uses only ops of its own opset.
 */
class FusionsTest {
    private static final double EXACT = 0;
    private static final Random RANDOM = new Random(11);

    @TempDir
    Path dir;

    // ---- helpers ----

    /** A graph under construction with one float input {@code x} of the given dims. */
    private static GraphBuilder graph(int opset, long... xDims) {
        GraphBuilder g = new GraphBuilder("fusion", opset);
        g.addInput(GraphBuilder.tensorInfo("x", F, xDims));
        return g;
    }

    private static String constant(GraphBuilder g, String name, ConstTensor value) {
        g.addInitializer(value.toProto(name));
        return name;
    }

    private static String scalar(GraphBuilder g, String name, double v) {
        return constant(g, name, ConstTensor.scalar(F, v));
    }

    private static String ints(GraphBuilder g, String name, long... v) {
        return constant(g, name, ConstTensor.vector(v));
    }

    /** Adds {@code y} as an output with its element type only (the fusions must keep its shape) and builds. */
    private static ModelProto finish(GraphBuilder g, String y, int elemType) {
        g.addOutput(ValueInfoProto.newBuilder().setName(y).setType(TypeProto.newBuilder()
                .setTensorType(TypeProto.Tensor.newBuilder().setElemType(elemType))).build());
        return g.build(false);
    }

    private static ModelProto finish(GraphBuilder g, String y) {
        return finish(g, y, F);
    }

    /** Uniform values in [-scale, scale). */
    private static ConstTensor random(double scale, long... dims) {
        int n = (int) TensorType.of(F, dims).elementCount();
        double[] v = new double[n];
        for (int i = 0; i < n; i++) {
            v[i] = (RANDOM.nextDouble() * 2 - 1) * scale;
        }
        return ConstTensor.ofDoubles(F, dims, v);
    }

    /**
     * Runs the fusions, checks the result is a valid graph of its opset, compares ONNX Runtime's outputs on
     * {@code feeds} within {@code tolerance}, and returns the fused model.
     */
    private ModelProto fuse(ModelProto before, Map<String, ConstTensor> feeds, double tolerance) {
        ModelProto after = ShapeInference.annotate(Fusions.apply(before, null), null);
        assertEquals(List.of(), GraphChecker.check(after, null));
        assertEquals(List.of(), OpsetCheck.check(after));
        assertSameOutputs(before, after, feeds, tolerance);
        return after;
    }

    private ModelProto fuse(ModelProto before, double tolerance, long... xDims) {
        return fuse(before, Map.of("x", random(1, xDims)), tolerance);
    }

    private void assertSameOutputs(ModelProto before, ModelProto after, Map<String, ConstTensor> feeds,
                                   double tolerance) {
        Map<String, ConstTensor> want = OrtRunner.run(before, dir, feeds);
        Map<String, ConstTensor> got = OrtRunner.run(after, dir, feeds);
        assertEquals(want.keySet(), got.keySet());
        for (String k : want.keySet()) {
            assertEquals(want.get(k).type(), got.get(k).type(), k);
            double[] a = want.get(k).toDoubles();
            double[] b = got.get(k).toDoubles();
            for (int i = 0; i < a.length; i++) {
                boolean ok = tolerance == EXACT ? Double.compare(a[i], b[i]) == 0
                        : Math.abs(a[i] - b[i]) <= tolerance * Math.max(1, Math.abs(a[i]));
                assertTrue(ok, k + "[" + i + "]: " + a[i] + " before, " + b[i] + " after (tolerance " + tolerance + ")");
            }
        }
    }

    private static Map<String, Integer> counts(ModelProto m) {
        return OpCounts.of(m);
    }

    private static NodeProto only(ModelProto m, String op) {
        List<NodeProto> found = m.getGraph().getNodeList().stream().filter(n -> n.getOpType().equals(op)).toList();
        assertEquals(1, found.size(), op + " in " + counts(m));
        return found.get(0);
    }

    private static long[] longsOf(ModelProto m, String initializer) {
        for (TensorProto t : m.getGraph().getInitializerList()) {
            if (t.getName().equals(initializer)) {
                return ConstTensor.fromProto(t, t.getRawData().asReadOnlyByteBuffer()).toLongs();
            }
        }
        throw new AssertionError("no initializer " + initializer);
    }

    private static double scalarOf(ModelProto m, String initializer) {
        for (TensorProto t : m.getGraph().getInitializerList()) {
            if (t.getName().equals(initializer)) {
                return ConstTensor.fromProto(t, t.getRawData().asReadOnlyByteBuffer()).getDouble(0);
            }
        }
        throw new AssertionError("no initializer " + initializer);
    }

    // ---- Reshape / Flatten / Squeeze / Unsqueeze ----

    @Test
    void reshapeChainsCollapseIntoOneReshapeWithTheFinalStaticShape() {
        GraphBuilder g = graph(13, 2, 3, 4);
        String r = g.addNode("Relu", List.of("x"));
        String a = g.addNode("Reshape", List.of(r, ints(g, "s1", 6, 4)));
        String b = g.addNode("Unsqueeze", List.of(a, ints(g, "ax", 0, 3)));
        String c = g.addNode("Flatten", List.of(b), Attributes.of("axis", 3L));
        String d = g.addNode("Squeeze", List.of(c, ints(g, "ax2", 1)));
        String e = g.addNode("Reshape", List.of(d, ints(g, "s2", -1, 3, 2)));
        String y = g.addNode("Neg", List.of(e));
        ModelProto after = fuse(finish(g, y), EXACT, 2, 3, 4);
        assertEquals(Map.of("Relu", 1, "Reshape", 1, "Neg", 1), counts(after));
        assertArrayEquals(new long[] {4, 3, 2}, longsOf(after, only(after, "Reshape").getInput(1)));
    }

    @Test
    void aChainBackToTheInputShapeDisappears() {
        GraphBuilder g = graph(13, 2, 3, 4);
        String r = g.addNode("Relu", List.of("x"));
        String a = g.addNode("Reshape", List.of(r, ints(g, "s1", 6, 4)));
        String b = g.addNode("Reshape", List.of(a, ints(g, "s2", 2, 3, 4)));
        String y = g.addNode("Neg", List.of(b));
        assertEquals(Map.of("Relu", 1, "Neg", 1), counts(fuse(finish(g, y), EXACT, 2, 3, 4)));
    }

    @Test
    void unsqueezeAndSqueezeChainsMergeTheirAxes() {
        // [3, 4] -> Unsqueeze [0] -> [1, 3, 4] -> Unsqueeze [1, -1] -> [1, 1, 3, 4, 1]
        GraphBuilder g = graph(13, 3, 4);
        String r = g.addNode("Relu", List.of("x"));
        String a = g.addNode("Unsqueeze", List.of(r, ints(g, "a1", 0)));
        String b = g.addNode("Unsqueeze", List.of(a, ints(g, "a2", 1, -1)));
        String y = g.addNode("Neg", List.of(b));
        ModelProto after = fuse(finish(g, y), EXACT, 3, 4);
        assertEquals(Map.of("Relu", 1, "Unsqueeze", 1, "Neg", 1), counts(after));
        assertArrayEquals(new long[] {0, 1, 4}, longsOf(after, only(after, "Unsqueeze").getInput(1)));

        // [1, 3, 1, 4, 1] -> Squeeze [0] -> [3, 1, 4, 1] -> Squeeze (every unit dim) -> [3, 4]
        GraphBuilder s = graph(13, 1, 3, 1, 4, 1);
        String sr = s.addNode("Relu", List.of("x"));
        String sa = s.addNode("Squeeze", List.of(sr, ints(s, "a1", 0)));
        String sb = s.addNode("Squeeze", List.of(sa));
        String sy = s.addNode("Neg", List.of(sb));
        ModelProto squeezed = fuse(finish(s, sy), EXACT, 1, 3, 1, 4, 1);
        assertEquals(Map.of("Relu", 1, "Squeeze", 1, "Neg", 1), counts(squeezed));
        assertArrayEquals(new long[] {0, 2, 4}, longsOf(squeezed, only(squeezed, "Squeeze").getInput(1)));
    }

    @Test
    void beforeOpset13AxesStayAttributes() {
        GraphBuilder g = graph(11, 3, 4);
        String r = g.addNode("Relu", List.of("x"));
        String a = g.addNode("Unsqueeze", List.of(r), Attributes.ints("axes", 0L));
        String b = g.addNode("Unsqueeze", List.of(a), Attributes.ints("axes", 3L));
        String y = g.addNode("Neg", List.of(b));
        ModelProto after = fuse(finish(g, y), EXACT, 3, 4);
        NodeProto u = only(after, "Unsqueeze");
        assertEquals(1, u.getInputCount());
        assertArrayEquals(new long[] {0, 3}, Attrs.getInts(u, "axes"));
    }

    @Test
    void aReshapeReadElsewhereStaysAndTheChainSkipsIt() {
        GraphBuilder g = graph(13, 2, 6);
        String r = g.addNode("Relu", List.of("x"));
        String a = g.addNode("Reshape", List.of(r, ints(g, "s1", 3, 4)));
        String b = g.addNode("Reshape", List.of(a, ints(g, "s2", 4, 3)));
        String y1 = g.addNode("Neg", List.of(b));
        String y2 = g.addNode("Exp", List.of(a));
        g.addOutput(GraphBuilder.tensorInfo(y2, F, new long[] {3, 4}));
        ModelProto after = fuse(finish(g, y1), EXACT, 2, 6);
        assertEquals(Map.of("Relu", 1, "Reshape", 2, "Neg", 1, "Exp", 1), counts(after));
        for (NodeProto n : after.getGraph().getNodeList()) {
            if (n.getOpType().equals("Reshape")) {
                assertEquals(r, n.getInput(0), "both Reshapes read the Relu");
            }
        }
    }

    // ---- Transpose ----

    @Test
    void transposeChainsComposeOrVanish() {
        GraphBuilder g = graph(13, 2, 3, 4, 5);
        String r = g.addNode("Relu", List.of("x"));
        String a = g.addNode("Transpose", List.of(r), Attributes.ints("perm", 0L, 2L, 1L, 3L));
        String b = g.addNode("Transpose", List.of(a), Attributes.ints("perm", 3L, 0L, 2L, 1L));
        String y = g.addNode("Neg", List.of(b));
        ModelProto after = fuse(finish(g, y), EXACT, 2, 3, 4, 5);
        assertEquals(Map.of("Relu", 1, "Transpose", 1, "Neg", 1), counts(after));
        assertArrayEquals(new long[] {3, 0, 1, 2}, Attrs.getInts(only(after, "Transpose"), "perm"));

        GraphBuilder inverse = graph(13, 2, 3, 4);
        String ir = inverse.addNode("Relu", List.of("x"));
        String ia = inverse.addNode("Transpose", List.of(ir), Attributes.ints("perm", 1L, 2L, 0L));
        String ib = inverse.addNode("Transpose", List.of(ia), Attributes.ints("perm", 2L, 0L, 1L));
        String ic = inverse.addNode("Transpose", List.of(ib)); // reversal, undone by the next one
        String id = inverse.addNode("Transpose", List.of(ic));
        String iy = inverse.addNode("Neg", List.of(id));
        assertEquals(Map.of("Relu", 1, "Neg", 1), counts(fuse(finish(inverse, iy), EXACT, 2, 3, 4)));
    }

    @Test
    void aTransposeMovingOnlyUnitAxesIsAReshapeAndMergesWithItsNeighbours() {
        // the decode-step head split: [2, 1, 64] -> [2, 1, 4, 16] -> Transpose(0, 2, 1, 3) -> [2, 4, 1, 16]
        GraphBuilder g = graph(13, 2, 1, 64);
        String r = g.addNode("Relu", List.of("x"));
        String a = g.addNode("Reshape", List.of(r, ints(g, "heads", 2, 1, 4, 16)));
        String b = g.addNode("Transpose", List.of(a), Attributes.ints("perm", 0L, 2L, 1L, 3L));
        String y = g.addNode("Neg", List.of(b));
        ModelProto after = fuse(finish(g, y), EXACT, 2, 1, 64);
        assertEquals(Map.of("Relu", 1, "Reshape", 1, "Neg", 1), counts(after));
        assertArrayEquals(new long[] {2, 4, 1, 16}, longsOf(after, only(after, "Reshape").getInput(1)));

        // the prefill head split moves data: it stays
        GraphBuilder p = graph(13, 2, 8, 64);
        String pr = p.addNode("Relu", List.of("x"));
        String pa = p.addNode("Reshape", List.of(pr, ints(p, "heads", 2, 8, 4, 16)));
        String pb = p.addNode("Transpose", List.of(pa), Attributes.ints("perm", 0L, 2L, 1L, 3L));
        String py = p.addNode("Neg", List.of(pb));
        assertEquals(Map.of("Relu", 1, "Reshape", 1, "Transpose", 1, "Neg", 1),
                counts(fuse(finish(p, py), EXACT, 2, 8, 64)));
    }

    @Test
    void aSmallTransposedConstantIsFoldedAndAWeightSizedOneIsNeverRewritten() {
        // small (<= 1M elements): the optimizer's folding pre-transposes it, then MatMul + bias becomes Gemm
        GraphBuilder g = graph(13, 3, 16);
        String w = constant(g, "w", random(1, 8, 16));
        String t = g.addNode("Transpose", List.of(w), Attributes.ints("perm", 1L, 0L));
        String mm = g.addNode("MatMul", List.of("x", t));
        String y = g.addNode("Add", List.of(mm, constant(g, "b", random(1, 8))));
        ModelProto small = finish(g, y);
        ModelProto optimized = StaticGraphOptimizer.optimize(small, null);
        assertEquals(Map.of("Gemm", 1), counts(optimized));
        assertTrue(only(optimized, "Gemm").getInput(1).startsWith(t), "reads the folded transpose");
        assertSameOutputs(small, optimized, Map.of("x", random(1, 3, 16)), 1e-5);

        // weight-sized (> 1M elements): the Transpose goes into Gemm's transB, the weight stays as it is
        GraphBuilder big = graph(13, 2, 1024);
        TensorProto weight = random(0.05, 1025, 1024).toProto("w");
        big.addInitializer(weight);
        String bt = big.addNode("Transpose", List.of("w"), Attributes.ints("perm", 1L, 0L));
        String by = big.addNode("MatMul", List.of("x", bt));
        ModelProto before = finish(big, by);
        ModelProto after = StaticGraphOptimizer.optimize(before, null);
        assertEquals(Map.of("Gemm", 1), counts(after));
        NodeProto gemm = only(after, "Gemm");
        assertEquals("w", gemm.getInput(1));
        assertEquals(1L, Attrs.getInt(gemm, "transB", 0));
        assertEquals(1, after.getGraph().getInitializerCount(), "no transposed copy");
        assertSame(weight.getRawData(), after.getGraph().getInitializer(0).getRawData(), "the weight is untouched");
        assertSameOutputs(before, after, Map.of("x", random(1, 2, 1024)), 1e-5);

        // with A of rank 3 there is no Gemm to absorb it: left alone
        GraphBuilder big3 = graph(13, 2, 1, 1024);
        big3.addInitializer(weight);
        String b3 = big3.addNode("Transpose", List.of("w"), Attributes.ints("perm", 1L, 0L));
        ModelProto rank3 = StaticGraphOptimizer.optimize(finish(big3, big3.addNode("MatMul", List.of("x", b3))), null);
        assertEquals(Map.of("Transpose", 1, "MatMul", 1), counts(rank3));
    }

    // ---- MatMul + Add -> Gemm ----

    @Test
    void aMatrixProductWithARowBiasBecomesGemm() {
        for (long[] biasDims : new long[][] {{6}, {1, 6}, {1}}) {
            for (boolean biasFirst : new boolean[] {false, true}) {
                GraphBuilder g = graph(13, 4, 8);
                String mm = g.addNode("MatMul", List.of("x", constant(g, "w", random(1, 8, 6))));
                String b = constant(g, "b", random(1, biasDims));
                String y = g.addNode("Add", biasFirst ? List.of(b, mm) : List.of(mm, b));
                ModelProto after = fuse(finish(g, y), 1e-5, 4, 8);
                assertEquals(Map.of("Gemm", 1), counts(after));
            }
        }
        // a transposed activation goes into transA
        GraphBuilder g = graph(13, 8, 4);
        String t = g.addNode("Transpose", List.of("x"), Attributes.ints("perm", 1L, 0L));
        String mm = g.addNode("MatMul", List.of(t, constant(g, "w", random(1, 8, 6))));
        String y = g.addNode("Add", List.of(mm, constant(g, "b", random(1, 6))));
        ModelProto after = fuse(finish(g, y), 1e-5, 8, 4);
        assertEquals(1L, Attrs.getInt(only(after, "Gemm"), "transA", 0));
        assertEquals(1, OpCounts.total(counts(after)));
    }

    @Test
    void notABiasNotFused() {
        // a column bias [M, 1], a full [M, N] addend, a product read twice
        for (long[] addend : new long[][] {{4, 1}, {4, 6}}) {
            GraphBuilder g = graph(13, 4, 8);
            String mm = g.addNode("MatMul", List.of("x", constant(g, "w", random(1, 8, 6))));
            String y = g.addNode("Add", List.of(mm, constant(g, "b", random(1, addend))));
            assertEquals(Map.of("MatMul", 1, "Add", 1), counts(fuse(finish(g, y), EXACT, 4, 8)));
        }
        GraphBuilder g = graph(13, 4, 8);
        String mm = g.addNode("MatMul", List.of("x", constant(g, "w", random(1, 8, 6))));
        String a = g.addNode("Add", List.of(mm, constant(g, "b", random(1, 6))));
        String y = g.addNode("Mul", List.of(a, mm));
        assertEquals(Map.of("MatMul", 1, "Add", 1, "Mul", 1), counts(fuse(finish(g, y), EXACT, 4, 8)));
    }

    @Test
    void rank3ProjectionsSharingAnInputBecomeGemmsWhenTheReshapesPayForThemselves() {
        // q/k/v at a decode step: three MatMul + Add, each followed by the head-split Reshape: 1 + 9 nodes
        GraphBuilder g = graph(13, 2, 1, 64);
        String h = g.addNode("Relu", List.of("x"));
        String heads = ints(g, "heads", 2, 1, 4, 16);
        String[] outs = new String[3];
        for (int i = 0; i < 3; i++) {
            String mm = g.addNode("MatMul", List.of(h, constant(g, "w" + i, random(0.2, 64, 64))));
            String a = g.addNode("Add", List.of(mm, constant(g, "b" + i, random(1, 64))));
            outs[i] = g.addNode("Reshape", List.of(a, heads));
        }
        String qk = g.addNode("Add", List.of(outs[0], outs[1]));
        String y = g.addNode("Add", List.of(qk, outs[2]));
        ModelProto after = fuse(finish(g, y), 1e-5, 2, 1, 64);
        // one Reshape to [2, 64] in front, a Gemm and the head-split Reshape each: 1 + 7 + 2
        assertEquals(Map.of("Relu", 1, "Reshape", 4, "Gemm", 3, "Add", 2), counts(after));
    }

    @Test
    void rank3ProjectionAfterAReshapeBecomesGemmAtTheSameNodeCount() {
        // the attention output projection: [2, 4, 1, 16] -> Reshape [2, 1, 64] -> MatMul -> Add -> residual
        GraphBuilder g = graph(13, 2, 4, 1, 16);
        String r = g.addNode("Reshape", List.of("x", ints(g, "s", 2, 1, 64)));
        String mm = g.addNode("MatMul", List.of(r, constant(g, "w", random(0.2, 64, 32))));
        String a = g.addNode("Add", List.of(mm, constant(g, "b", random(1, 32))));
        String y = g.addNode("Relu", List.of(a));
        ModelProto after = fuse(finish(g, y), 1e-5, 2, 4, 1, 16);
        assertEquals(Map.of("Reshape", 2, "Gemm", 1, "Relu", 1), counts(after));
        assertArrayEquals(new long[] {2, 64}, longsOf(after, after.getGraph().getNode(0).getInput(1)));
    }

    @Test
    void aTransposedMatrixBehindARank3ProductBecomesTransBWhenTheReshapesExist() {
        // Reshape -> MatMul(Transpose(w)) -> Reshape: 4 nodes; Reshape -> Gemm(transB) -> Reshape: 3, w untouched
        GraphBuilder g = graph(13, 2, 4, 1, 16);
        String r = g.addNode("Reshape", List.of("x", ints(g, "s", 2, 1, 64)));
        String wt = g.addNode("Transpose", List.of(constant(g, "w", random(0.2, 32, 64))),
                Attributes.ints("perm", 1L, 0L));
        String mm = g.addNode("MatMul", List.of(r, wt));
        String y = g.addNode("Reshape", List.of(mm, ints(g, "heads", 2, 1, 2, 16)));
        ModelProto after = fuse(finish(g, y), 1e-5, 2, 4, 1, 16);
        assertEquals(Map.of("Reshape", 2, "Gemm", 1), counts(after));
        NodeProto gemm = only(after, "Gemm");
        assertEquals("w", gemm.getInput(1));
        assertEquals(1L, Attrs.getInt(gemm, "transB", 0));
    }

    @Test
    void rank3ProjectionThatWouldNeedTwoNewReshapesStaysAMatMul() {
        GraphBuilder g = graph(13, 2, 3, 8);
        String h = g.addNode("Relu", List.of("x"));
        String mm = g.addNode("MatMul", List.of(h, constant(g, "w", random(1, 8, 6))));
        String a = g.addNode("Add", List.of(mm, constant(g, "b", random(1, 6))));
        String y = g.addNode("Relu", List.of(a));
        assertEquals(Map.of("Relu", 2, "MatMul", 1, "Add", 1), counts(fuse(finish(g, y), EXACT, 2, 3, 8)));
    }

    // ---- scalar Mul / Div ----

    @Test
    void scalarChainsFoldIntoOneConstant() {
        // tolerance 1e-6: the folded constant is rounded once, the chain rounded after each step
        String[][] chains = {{"Mul", "Mul"}, {"Div", "Div"}, {"Mul", "Div"}, {"Div", "Mul"}};
        String[] expectOp = {"Mul", "Div", "Mul", "Mul"};
        double[] expect = {3.0 * 7.0, 3.0 * 7.0, 3.0 / 7.0, 7.0 / 3.0};
        for (int i = 0; i < chains.length; i++) {
            GraphBuilder g = graph(13, 2, 5);
            String r = g.addNode("Relu", List.of("x"));
            String a = g.addNode(chains[i][0], List.of(r, scalar(g, "c1", 3)));
            String b = chains[i][1].equals("Mul") ? g.addNode("Mul", List.of(scalar(g, "c2", 7), a))
                    : g.addNode("Div", List.of(a, scalar(g, "c2", 7)));
            String y = g.addNode("Neg", List.of(b));
            ModelProto after = fuse(finish(g, y), 1e-6, 2, 5);
            assertEquals(Map.of("Relu", 1, expectOp[i], 1, "Neg", 1), counts(after), String.join("->", chains[i]));
            NodeProto n = only(after, expectOp[i]);
            assertEquals((float) expect[i], (float) scalarOf(after, n.getInput(1)), 0);
        }
    }

    @Test
    void aDivisionBecomesAMultiplicationOnlyWhenThatIsExact() {
        GraphBuilder g = graph(13, 2, 5);
        String a = g.addNode("Div", List.of("x", scalar(g, "four", 4)));
        String b = g.addNode("Relu", List.of(a));
        String y = g.addNode("Div", List.of(b, scalar(g, "three", 3)));
        ModelProto after = fuse(finish(g, y), EXACT, 2, 5);
        assertEquals(Map.of("Mul", 1, "Relu", 1, "Div", 1), counts(after));
        assertEquals(0.25, scalarOf(after, only(after, "Mul").getInput(1)));
        assertEquals("three", only(after, "Div").getInput(1));
    }

    @Test
    void aScalarThatBroadcastsIsLeftAlone() {
        GraphBuilder g = graph(13, 5);
        String a = g.addNode("Mul", List.of("x", constant(g, "c1", ConstTensor.ofDoubles(F, new long[] {1, 1},
                new double[] {3}))));
        String y = g.addNode("Mul", List.of(a, scalar(g, "c2", 7)));
        assertEquals(Map.of("Mul", 2), counts(fuse(finish(g, y), EXACT, 5)));
    }

    @Test
    void anExactScaleOfAttentionScoresMovesOntoTheSmallerOperand() {
        // scores [2, 4, 1, 32] = q [2, 4, 1, 16] @ kT [2, 4, 16, 32], / 4: the scale moves onto q (64 elements fewer)
        GraphBuilder g = graph(13, 2, 4, 1, 16);
        g.addInput(GraphBuilder.tensorInfo("kt", F, new long[] {2, 4, 16, 32}));
        String s = g.addNode("MatMul", List.of("x", "kt"));
        String y = g.addNode("Softmax", List.of(g.addNode("Div", List.of(s, scalar(g, "four", 4)))),
                Attributes.of("axis", -1L));
        Map<String, ConstTensor> feeds = Map.of("x", random(3, 2, 4, 1, 16), "kt", random(3, 2, 4, 16, 32));
        ModelProto after = fuse(finish(g, y), feeds, EXACT);
        assertEquals(Map.of("Mul", 1, "MatMul", 1, "Softmax", 1), counts(after));
        assertEquals("x", only(after, "Mul").getInput(0));

        // a scale already on the operand takes it: (q * 0.125) @ kT * 0.5 -> (q * 0.0625) @ kT
        GraphBuilder m = graph(13, 2, 4, 8, 16);
        m.addInput(GraphBuilder.tensorInfo("kt", F, new long[] {2, 4, 16, 8}));
        String q = m.addNode("Mul", List.of("x", scalar(m, "eighth", 0.125)));
        String ms = m.addNode("MatMul", List.of(q, "kt"));
        String my = m.addNode("Mul", List.of(ms, scalar(m, "half", 0.5)));
        ModelProto merged = fuse(finish(m, my), Map.of("x", random(3, 2, 4, 8, 16), "kt", random(3, 2, 4, 16, 8)),
                EXACT);
        assertEquals(Map.of("Mul", 1, "MatMul", 1), counts(merged));
        assertEquals(0.0625, scalarOf(merged, only(merged, "Mul").getInput(1)));
    }

    @Test
    void aScaleThatIsNotAPowerOfTwoStaysAfterTheMatMul() {
        GraphBuilder g = graph(13, 2, 1, 16);
        g.addInput(GraphBuilder.tensorInfo("kt", F, new long[] {2, 16, 32}));
        String s = g.addNode("MatMul", List.of("x", "kt"));
        String y = g.addNode("Div", List.of(s, scalar(g, "root", Math.sqrt(96))));
        ModelProto after = fuse(finish(g, y), Map.of("x", random(1, 2, 1, 16), "kt", random(1, 2, 16, 32)), EXACT);
        assertEquals(List.of("MatMul", "Div"), after.getGraph().getNodeList().stream().map(NodeProto::getOpType).toList());
    }

    // ---- LayerNorm (opset 17) ----

    /** The decomposition the tracer writes below opset 17 (and transformers' exports at any opset). */
    private static ModelProto decomposedLayerNorm(int opset, boolean gamma, boolean beta, boolean reciprocal) {
        GraphBuilder g = graph(opset, 2, 3, 16);
        String mean = opset >= 18
                ? g.addNode("ReduceMean", List.of("x", ints(g, "axes", -1)), Attributes.of("keepdims", 1L))
                : g.addNode("ReduceMean", List.of("x"), Attributes.ints("axes", -1L), Attributes.of("keepdims", 1L));
        String d = g.addNode("Sub", List.of("x", mean));
        String sq = g.addNode("Pow", List.of(d, scalar(g, "two", 2)));
        String var = opset >= 18
                ? g.addNode("ReduceMean", List.of(sq, "axes"), Attributes.of("keepdims", 1L))
                : g.addNode("ReduceMean", List.of(sq), Attributes.ints("axes", 2L), Attributes.of("keepdims", 1L));
        String std = g.addNode("Sqrt", List.of(g.addNode("Add", List.of(var, scalar(g, "eps", 1e-5)))));
        String y = reciprocal ? g.addNode("Mul", List.of(d, g.addNode("Reciprocal", List.of(std))))
                : g.addNode("Div", List.of(d, std));
        if (gamma) {
            y = g.addNode("Mul", List.of(constant(g, "gamma", random(1, 16)), y));
        }
        if (beta) {
            y = g.addNode("Add", List.of(y, constant(g, "beta", random(1, 16))));
        }
        return finish(g, y);
    }

    @Test
    void theDecomposedLayerNormBecomesLayerNormalizationFromOpset17() {
        // tolerance 1e-5: LayerNormalization computes the same statistics in another order
        for (int opset : new int[] {17, 18}) {
            ModelProto after = fuse(decomposedLayerNorm(opset, true, true, false), 1e-5, 2, 3, 16);
            assertEquals(Map.of("LayerNormalization", 1), counts(after), "opset " + opset);
            NodeProto ln = only(after, "LayerNormalization");
            assertEquals(List.of("x", "gamma", "beta"), ln.getInputList());
            assertEquals(-1L, Attrs.getInt(ln, "axis", 0));
            assertEquals(1e-5f, Attrs.getFloat(ln, "epsilon", 0));
        }
        ModelProto noBeta = fuse(decomposedLayerNorm(17, true, false, true), 1e-5, 2, 3, 16);
        assertEquals(List.of("x", "gamma"), only(noBeta, "LayerNormalization").getInputList());
        ModelProto bare = fuse(decomposedLayerNorm(17, false, false, false), 1e-5, 2, 3, 16);
        assertEquals(Map.of("LayerNormalization", 1), counts(bare), "a scale of ones");
    }

    @Test
    void aLayerNormOverSeveralTrailingAxesTakesAScaleOfThoseDims() {
        GraphBuilder g = graph(17, 2, 3, 16);
        String mean = g.addNode("ReduceMean", List.of("x"), Attributes.ints("axes", -2L, -1L));
        String d = g.addNode("Sub", List.of("x", mean));
        String var = g.addNode("ReduceMean", List.of(g.addNode("Mul", List.of(d, d))), Attributes.ints("axes", 1L, 2L));
        String std = g.addNode("Sqrt", List.of(g.addNode("Add", List.of(scalar(g, "eps", 1e-6), var))));
        String y = g.addNode("Mul", List.of(g.addNode("Div", List.of(d, std)), constant(g, "gamma", random(1, 3, 16))));
        ModelProto after = fuse(finish(g, y), 1e-5, 2, 3, 16);
        NodeProto ln = only(after, "LayerNormalization");
        assertEquals(-2L, Attrs.getInt(ln, "axis", 0));
        assertEquals(1e-6f, Attrs.getFloat(ln, "epsilon", 0));
        assertEquals(1, OpCounts.total(counts(after)));
    }

    @Test
    void belowOpset17TheLayerNormStaysDecomposed() {
        ModelProto before = decomposedLayerNorm(13, true, true, false);
        ModelProto after = fuse(before, EXACT, 2, 3, 16);
        assertEquals(counts(before), counts(after));
    }

    @Test
    void aLayerNormWhoseIntermediateIsReadElsewhereStays() {
        GraphBuilder g = graph(17, 2, 16);
        String mean = g.addNode("ReduceMean", List.of("x"), Attributes.ints("axes", -1L));
        String d = g.addNode("Sub", List.of("x", mean));
        String var = g.addNode("ReduceMean", List.of(g.addNode("Mul", List.of(d, d))), Attributes.ints("axes", -1L));
        String std = g.addNode("Sqrt", List.of(g.addNode("Add", List.of(var, scalar(g, "eps", 1e-5)))));
        String y = g.addNode("Div", List.of(d, std));
        g.addOutput(GraphBuilder.tensorInfo(std, F, new long[] {2, 1}));
        ModelProto after = fuse(finish(g, y), EXACT, 2, 16);
        assertEquals(0, counts(after).getOrDefault("LayerNormalization", 0));
    }

    @Test
    void aLayerNormThatComputesItsCenteringTwiceFusesOnceTheCopiesAreMerged() {
        // as in torch exports of Megatron GPT-2: Sub(x, mean) written twice
        GraphBuilder g = graph(17, 2, 8);
        String mean = g.addNode("ReduceMean", List.of("x"), Attributes.ints("axes", -1L));
        String d1 = g.addNode("Sub", List.of("x", mean));
        String var = g.addNode("ReduceMean", List.of(g.addNode("Pow", List.of(d1, scalar(g, "two", 2)))),
                Attributes.ints("axes", -1L));
        String d2 = g.addNode("Sub", List.of("x", mean));
        String std = g.addNode("Sqrt", List.of(g.addNode("Add", List.of(var, scalar(g, "eps", 1e-5)))));
        String y = g.addNode("Mul", List.of(constant(g, "gamma", random(1, 8)),
                g.addNode("Div", List.of(d2, std))));
        ModelProto after = fuse(finish(g, y), 1e-5, 2, 8);
        assertEquals(Map.of("LayerNormalization", 1), counts(after));
    }

    // ---- GELU (opset 20) ----

    /** x * 0.5 * (1 + erf(x / sqrt 2)) as the tracer writes it. */
    private static ModelProto erfGelu(int opset) {
        GraphBuilder g = graph(opset, 4, 32);
        String h = g.addNode("Relu", List.of("x"));
        String h2 = g.addNode("Sub", List.of(h, scalar(g, "shift", 2)));
        String e = g.addNode("Erf", List.of(g.addNode("Div", List.of(h2, scalar(g, "root2", Math.sqrt(2))))));
        String a = g.addNode("Add", List.of(e, scalar(g, "one", 1)));
        String y = g.addNode("Mul", List.of(g.addNode("Mul", List.of(h2, a)), scalar(g, "half", 0.5)));
        return finish(g, y);
    }

    /** GPT-2's gelu_new, as transformers writes it. */
    private static ModelProto tanhGelu(int opset) {
        GraphBuilder g = graph(opset, 4, 32);
        String cube = g.addNode("Pow", List.of("x", scalar(g, "three", 3)));
        String inner = g.addNode("Add", List.of("x", g.addNode("Mul", List.of(scalar(g, "k", 0.044715), cube))));
        String t = g.addNode("Tanh", List.of(g.addNode("Mul", List.of(scalar(g, "c", Math.sqrt(2 / Math.PI)), inner))));
        String half = g.addNode("Mul", List.of(scalar(g, "half", 0.5), "x"));
        String y = g.addNode("Mul", List.of(half, g.addNode("Add", List.of(scalar(g, "one", 1), t))));
        return finish(g, y);
    }

    /** Megatron's form: 0.5x · (1 + tanh(0.79788x · (1 + 0.044715x·x))). */
    private static ModelProto megatronGelu(int opset) {
        GraphBuilder g = graph(opset, 4, 32);
        String half = g.addNode("Mul", List.of("x", scalar(g, "half", 0.5)));
        String c = g.addNode("Mul", List.of("x", scalar(g, "c", 0.7978845608)));
        String kx = g.addNode("Mul", List.of("x", scalar(g, "k", 0.044715)));
        String kxx = g.addNode("Mul", List.of(kx, "x"));
        String p = g.addNode("Add", List.of(kxx, scalar(g, "one", 1)));
        String t = g.addNode("Tanh", List.of(g.addNode("Mul", List.of(c, p))));
        String y = g.addNode("Mul", List.of(half, g.addNode("Add", List.of(t, scalar(g, "one_", 1)))));
        return finish(g, y);
    }

    @Test
    void theWrittenOutGeluBecomesGeluFromOpset20() {
        // tolerance 1e-5 (ONNX Runtime's Gelu kernels against the decomposition)
        Map<String, ConstTensor> feeds = Map.of("x", random(5, 4, 32));
        ModelProto erf = fuse(erfGelu(20), feeds, 1e-5);
        assertEquals(Map.of("Relu", 1, "Sub", 1, "Gelu", 1), counts(erf));
        assertEquals("none", Attrs.getString(only(erf, "Gelu"), "approximate", "?"));
        for (ModelProto tanh : List.of(tanhGelu(20), megatronGelu(20))) {
            ModelProto after = fuse(tanh, feeds, 1e-5);
            assertEquals(Map.of("Gelu", 1), counts(after));
            assertEquals("tanh", Attrs.getString(only(after, "Gelu"), "approximate", "?"));
        }
    }

    @Test
    void belowOpset20OrWithOtherConstantsTheGeluStays() {
        for (ModelProto m : List.of(erfGelu(13), tanhGelu(17), megatronGelu(19))) {
            assertEquals(0, counts(fuse(m, EXACT, 4, 32)).getOrDefault("Gelu", 0));
        }
        // 0.04 instead of 0.044715: not GELU
        GraphBuilder g = graph(20, 4, 32);
        String cube = g.addNode("Pow", List.of("x", scalar(g, "three", 3)));
        String inner = g.addNode("Add", List.of("x", g.addNode("Mul", List.of(scalar(g, "k", 0.04), cube))));
        String t = g.addNode("Tanh", List.of(g.addNode("Mul", List.of(scalar(g, "c", Math.sqrt(2 / Math.PI)), inner))));
        String y = g.addNode("Mul", List.of(g.addNode("Mul", List.of(scalar(g, "half", 0.5), "x")),
                g.addNode("Add", List.of(scalar(g, "one", 1), t))));
        assertEquals(0, counts(fuse(finish(g, y), EXACT, 4, 32)).getOrDefault("Gelu", 0));
    }

    // ---- common subexpressions, and what is left alone ----

    @Test
    void identicalNodesAreMergedIncludingOnesReadingEqualConstantsUnderOtherNames() {
        GraphBuilder g = graph(13, 2, 9);
        g.addInput(GraphBuilder.tensorInfo("mask", OpCase.I64, new long[] {2, 9}));
        String z1 = ints(g, "zero_a", 0);
        String z2 = ints(g, "zero_b", 0);
        String m1 = g.addNode("Unsqueeze", List.of(g.addNode("Greater", List.of("mask", z1)), ints(g, "ax", 1)));
        String m2 = g.addNode("Unsqueeze", List.of(g.addNode("Greater", List.of("mask", z2)), ints(g, "ax2", 1)));
        String min = scalar(g, "min", -Float.MAX_VALUE);
        String a = g.addNode("Softmax", List.of(g.addNode("Where", List.of(m1, "x", min))), Attributes.of("axis", -1L));
        String b = g.addNode("Softmax", List.of(g.addNode("Where", List.of(m2, "x", min))), Attributes.of("axis", -1L));
        String y = g.addNode("Add", List.of(a, b));
        Map<String, ConstTensor> feeds = new LinkedHashMap<>();
        feeds.put("x", random(1, 2, 9));
        feeds.put("mask", ConstTensor.ofLongs(OpCase.I64, new long[] {2, 9},
                new long[] {1, 1, 1, 0, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1, 1}));
        ModelProto after = fuse(finish(g, y), feeds, EXACT);
        // the masking Where + Softmax themselves stay as they are
        assertEquals(Map.of("Greater", 1, "Unsqueeze", 1, "Where", 1, "Softmax", 1, "Add", 1), counts(after));
    }

    @Test
    void nodesWritingGraphOutputsAreNotMerged() {
        GraphBuilder g = graph(13, 3);
        String a = g.addNode("Relu", List.of("x"));
        String b = g.addNode("Relu", List.of("x"));
        g.addOutput(GraphBuilder.tensorInfo(a, F, new long[] {3}));
        ModelProto after = fuse(finish(g, b), EXACT, 3);
        assertEquals(Map.of("Relu", 2), counts(after));
    }

    @Test
    void float16GraphsFuseToo() {
        GraphBuilder g = new GraphBuilder("half", 13);
        g.addInput(GraphBuilder.tensorInfo("x", H, new long[] {2, 1, 8}));
        String r = g.addNode("Reshape", List.of("x", ints(g, "s", 2, 1, 2, 4)));
        String t = g.addNode("Transpose", List.of(r), Attributes.ints("perm", 0L, 2L, 1L, 3L));
        String y = g.addNode("Div", List.of(t, constant(g, "two", ConstTensor.scalar(H, 2))));
        ModelProto before = finish(g, y, H);
        ModelProto after = fuse(before, Map.of("x", random(1, 2, 1, 8).cast(H)), EXACT);
        assertEquals(Map.of("Reshape", 1, "Mul", 1), counts(after));
    }

    @Test
    void theOptimizerAppliesTheFusions() {
        // a decode-step attention block written the way the tracer writes it, at opset 13
        GraphBuilder g = graph(13, 2, 1, 64);
        g.addInput(GraphBuilder.tensorInfo("mask", B, new long[] {2, 1, 1, 9}));
        g.addInput(GraphBuilder.tensorInfo("past", F, new long[] {2, 4, 8, 16}));
        String heads = ints(g, "heads", 2, 1, 4, 16);
        String[] qkv = new String[3];
        for (int i = 0; i < 3; i++) {
            String mm = g.addNode("MatMul", List.of("x", constant(g, "w" + i, random(0.2, 64, 64))));
            String a = g.addNode("Add", List.of(mm, constant(g, "b" + i, random(0.2, 64))));
            qkv[i] = g.addNode("Transpose", List.of(g.addNode("Reshape", List.of(a, heads))),
                    Attributes.ints("perm", 0L, 2L, 1L, 3L));
        }
        String k = g.addNode("Concat", List.of("past", qkv[1]), Attributes.of("axis", 2L));
        String v = g.addNode("Concat", List.of("past", qkv[2]), Attributes.of("axis", 2L));
        String kt = g.addNode("Transpose", List.of(k), Attributes.ints("perm", 0L, 1L, 3L, 2L));
        String s = g.addNode("Div", List.of(g.addNode("MatMul", List.of(qkv[0], kt)), scalar(g, "four", 4)));
        String p = g.addNode("Softmax", List.of(g.addNode("Where", List.of("mask", s, scalar(g, "min",
                -Float.MAX_VALUE)))), Attributes.of("axis", -1L));
        String o = g.addNode("Transpose", List.of(g.addNode("MatMul", List.of(p, v))),
                Attributes.ints("perm", 0L, 2L, 1L, 3L));
        String proj = g.addNode("MatMul", List.of(g.addNode("Reshape", List.of(o, ints(g, "merged", 2, 1, 64))),
                constant(g, "wo", random(0.2, 64, 64))));
        String y = g.addNode("Add", List.of(g.addNode("Add", List.of(proj, constant(g, "bo", random(0.2, 64)))), "x"));
        ModelProto before = finish(g, y);
        assertEquals(25, OpCounts.total(counts(before)));
        ModelProto after = StaticGraphOptimizer.optimize(before, null);
        // the unit-axis Transposes merge into the Reshapes, q/k/v and the output projection become Gemms, the
        // scale becomes a Mul; the transpose of the keys (which moves data) and the masking stay
        assertEquals(Map.of("Reshape", 6, "Gemm", 4, "Concat", 2, "Transpose", 1, "MatMul", 2, "Mul", 1,
                "Where", 1, "Softmax", 1, "Add", 1), counts(after));
        Map<String, ConstTensor> feeds = new LinkedHashMap<>();
        feeds.put("x", random(1, 2, 1, 64));
        feeds.put("mask", OpCase.random(B, 2, 1, 1, 9));
        feeds.put("past", random(1, 2, 4, 8, 16));
        // tolerance 1e-5: Gemm adds the bias inside the product
        assertSameOutputs(before, after, feeds, 1e-5);
        assertEquals(List.of(), StaticGraphOptimizer.staticProblems(after));
        assertEquals(counts(after), counts(StaticGraphOptimizer.optimize(after, null)), "a fixed point");
    }
}
