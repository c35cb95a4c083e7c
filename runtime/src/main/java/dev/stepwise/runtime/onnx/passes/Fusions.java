package dev.stepwise.runtime.onnx.passes;

import dev.stepwise.runtime.onnx.proto.Onnx.ModelProto;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.ToIntFunction;

/**
 * The fusions of a static graph, each semantics-preserving (exact, or within float rounding where said) and each
 * using only ops of the graph's own opset: identical nodes merged ({@link CommonSubexpressions}); the decomposed
 * LayerNorm fused into LayerNormalization from opset 17 ({@link LayerNormFusion}); the erf and tanh GELU into Gelu from
 * opset 20 ({@link GeluFusion}); Transpose chains composed and unit-axis Transposes turned into Reshapes
 * ({@link TransposeFusion}); Reshape/Flatten/Squeeze/Unsqueeze chains collapsed ({@link ReshapeFusion}); scalar
 * Mul/Div chains folded and exact scales moved across MatMul ({@link ScaleFusion}); MatMul + bias Add into Gemm
 * ({@link GemmFusion}). Runs them in rounds until none applies; dead nodes and identities are dropped after each.
 */
public final class Fusions {
    private static final int MAX_ROUNDS = 8;

    /**
     * One kind of rewrite: its name in {@link Result#applied}, the first opset whose standard ops it can write (below
     * it the decomposition stays), and the rewrite itself, which returns how many rewrites it made on a graph.
     */
    record Fusion(String name, int sinceOpset, ToIntFunction<FusionGraph> rewrite) {
    }

    /** The fused model and how often each fusion applied (by name, in pipeline order). */
    public record Result(ModelProto model, Map<String, Integer> applied) {
    }

    private Fusions() {
    }

    static List<Fusion> all() {
        return List.of(new Fusion("CommonSubexpressions", 1, CommonSubexpressions::apply),
                new Fusion("LayerNormalization", LayerNormFusion.SINCE, LayerNormFusion::apply),
                new Fusion("Gelu", GeluFusion.SINCE, GeluFusion::apply),
                new Fusion("Transpose", 1, TransposeFusion::apply),
                new Fusion("Reshape", 1, ReshapeFusion::apply),
                new Fusion("Scale", 1, ScaleFusion::apply),
                new Fusion("Gemm", 1, GemmFusion::apply));
    }

    public static ModelProto apply(ModelProto model, Path modelDir) {
        return run(model, modelDir).model();
    }

    public static Result run(ModelProto model, Path modelDir) {
        return run(model, modelDir, all());
    }

    static Result run(ModelProto model, Path modelDir, List<Fusion> fusions) {
        Map<String, Integer> applied = new LinkedHashMap<>();
        ModelProto m = model;
        for (int round = 0; round < MAX_ROUNDS; round++) {
            boolean changed = false;
            for (Fusion f : fusions) {
                if (GraphInference.defaultOpset(m) < f.sinceOpset()) {
                    continue;
                }
                FusionGraph g = new FusionGraph(m, modelDir);
                int n = f.rewrite().applyAsInt(g);
                if (n > 0) {
                    m = DeadCodeElimination.apply(IdentityElimination.apply(g.build()), false);
                    applied.merge(f.name(), n, Integer::sum);
                    changed = true;
                }
            }
            if (!changed) {
                break;
            }
        }
        return new Result(m, applied);
    }
}
