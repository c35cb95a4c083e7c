package dev.stepwise.runtime.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.stepwise.annotations.DType;
import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.model.CausalLm;
import dev.stepwise.runtime.model.ConfigJson;
import dev.stepwise.runtime.model.ConfigKeyMap;
import dev.stepwise.runtime.model.ModelConfig;
import dev.stepwise.runtime.model.WeightSpec;
import dev.stepwise.runtime.model.layers.Linear;
import dev.stepwise.runtime.model.layers.LmHead;
import dev.stepwise.runtime.model.layers.Norms;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The shape-only backend: what a forward declares, and the one-line errors for declarations that do not fit. */
class ShapeOpsTest {
    private static final ConfigKeyMap KEYS = new ConfigKeyMap("layers", "heads", "", "width", "vocab", "positions",
            "eos_token_id", "bos_token_id", "pad_token_id");
    private static final ModelConfig CONFIG = ModelConfig.of(Path.of("toy", "config.json"),
            ConfigJson.of("layers", 1, "heads", 2, "width", 8, "vocab", 10, "positions", 16), KEYS);

    /** An embedding, a LayerNorm, one nn.Linear and a head that is the embedding unless the checkpoint has one. */
    private static final CausalLm TINY = (ops, config, in, cache) -> {
        Tensor embed = ops.weight("embed.weight", 10, 8);
        Tensor x = Norms.layerNorm(ops, ops.gather(embed, in.inputIds()), "norm", 8, 1e-5f);
        x = Linear.apply(ops, x, "proj", 8, 8, false);
        return LmHead.logits(ops, in, x, ops.weightOr("head.weight", embed, 10, 8));
    };

    @Test
    void declaredWeightsInFirstUseOrderWithShapesOptionalityAndInit() {
        List<WeightSpec> w = TINY.expectedWeights(CONFIG);
        assertEquals("[embed.weight[10, 8], norm.weight[8], norm.bias[8], proj.weight[8, 8], head.weight[10, 8]]",
                w.toString());
        assertEquals(List.of(false, false, false, false, true), w.stream().map(WeightSpec::optional).toList());
        assertEquals(List.of(WeightInit.NORMAL, WeightInit.SCALE, WeightInit.NORMAL, WeightInit.NORMAL,
                WeightInit.NORMAL), w.stream().map(WeightSpec::init).toList());
    }

    @Test
    void shapesAndTypesFollowTheOps() {
        ShapeOps ops = new ShapeOps();
        Tensor x = ops.input("x", DType.FLOAT, 2, 3, 8);
        Tensor w = ops.weightTransposed("w", 12, 8);                   // stored [12, 8], used [8, 12]
        Tensor y = ops.matmul(x, w);
        assertEquals(3, y.rank());
        assertEquals(12, ops.dim(y, -1).value());
        Tensor heads = ops.transpose(ops.reshape(y, Dim.of(2), Dim.of(3), Dim.of(3), Dim.of(-1)), 0, 2, 1, 3);
        assertEquals(List.of(2L, 3L, 3L, 4L), dims(ops, heads));
        Tensor sliced = ops.slice(heads, -1, Dim.of(1), Dim.of(100));
        assertEquals(3, ops.dim(sliced, 3).value());
        assertEquals(DType.BOOL, ops.greater(ops.range(Dim.of(0), Dim.of(5)), ops.longs(2)).type());
        assertEquals(List.of(2L, 3L, 1L), dims(ops, ops.reduceMean(x, -1, true)));
        assertEquals(List.of(2L, 3L, 5L, 8L), dims(ops, ops.gather(ops.input("t", DType.FLOAT, 7, 8),
                ops.input("i", DType.INT64, 2, 3, 5))));
        assertSame(ops.weight("w2", 4), ops.weight("w2", 4), "one tensor per weight");
        assertFalse(ops.hasWeight("w2"), "no checkpoint");
        assertEquals(List.of("w[12, 8]", "w2[4]"), ops.declaredWeights().stream().map(WeightSpec::toString).toList());
    }

    @Test
    void aDeclaredShapeThatDoesNotFitItsUseFailsNamingTheWeight() {
        CausalLm wrong = (ops, config, in, cache) -> {
            Tensor x = ops.gather(ops.weight("embed.weight", 10, 8), in.inputIds());
            return ops.matmul(x, ops.weightTransposed("proj.weight", 8, 6));   // [.., 8] @ [6, 8]
        };
        StepwiseException e = assertThrows(StepwiseException.class, () -> wrong.expectedWeights(CONFIG));
        assertEquals("shape-only run of the forward: matmul of rows of weight 'embed.weight' [2, 3, 8] and weight"
                + " 'proj.weight' transposed [6, 8]: inner sizes 8 and 6 differ", e.getMessage());
    }

    @Test
    void aLayerNormScaleOfTheWrongWidthFails() {
        CausalLm wrong = (ops, config, in, cache) -> Norms.layerNorm(ops,
                ops.gather(ops.weight("embed.weight", 10, 8), in.inputIds()), "norm", 16, 1e-5f);
        StepwiseException e = assertThrows(StepwiseException.class, () -> wrong.expectedWeights(CONFIG));
        assertEquals("shape-only run of the forward: layerNorm of rows of weight 'embed.weight' [2, 3, 8] with weight"
                + " 'norm.weight' [16]: expected a scale and shift of shape [8]", e.getMessage());
    }

    @Test
    void anUndeclaredWeightFailsSayingHowToDeclareIt() {
        CausalLm old = (ops, config, in, cache) -> ops.gather(ops.weight("embed.weight"), in.inputIds());
        StepwiseException e = assertThrows(StepwiseException.class, () -> old.expectedWeights(CONFIG));
        assertEquals("the forward reads weight 'embed.weight' without declaring its shape; expected"
                + " ops.weight(name, shape...) so the expected weights can be derived from the forward", e.getMessage());
    }

    @Test
    void oneWeightDeclaredTwoWaysFails() {
        CausalLm twice = (ops, config, in, cache) -> {
            ops.weight("embed.weight", 10, 8);
            return ops.gather(ops.weight("embed.weight", 10, 4), in.inputIds());
        };
        StepwiseException e = assertThrows(StepwiseException.class, () -> twice.expectedWeights(CONFIG));
        assertEquals("weight 'embed.weight' is declared twice, as [10, 8] NORMAL and as [10, 4] NORMAL; expected one"
                + " declaration", e.getMessage());
    }

    @Test
    void aTiedWeightMustHaveTheShapeOfWhatItIsTiedTo() {
        CausalLm tied = (ops, config, in, cache) -> {
            Tensor embed = ops.weight("embed.weight", 10, 8);
            return LmHead.logits(ops, in, ops.gather(embed, in.inputIds()), ops.tiedWeight("head.weight", embed, 8, 10));
        };
        StepwiseException e = assertThrows(StepwiseException.class, () -> tied.expectedWeights(CONFIG));
        assertEquals("optional weight 'head.weight' is declared [8, 10] but stands in for weight 'embed.weight'"
                + " [10, 8]; expected the same shape", e.getMessage());
    }

    @Test
    void randomInitByRole() {
        assertEquals(0, WeightInit.NORMAL.mean());
        assertEquals(0.02, WeightInit.NORMAL.std(new long[] {3, 4}));
        assertEquals(1, WeightInit.SCALE.mean());
        assertEquals(0.1, WeightInit.SCALE.std(new long[] {4}));
        assertEquals(0.5, WeightInit.FAN_IN.std(new long[] {7, 4}), "1/sqrt(in) of [out, in]");
        assertThrows(IllegalArgumentException.class, () -> WeightInit.FAN_IN.std(new long[] {4}));
    }

    private static List<Long> dims(Ops ops, Tensor t) {
        Long[] d = new Long[t.rank()];
        for (int i = 0; i < d.length; i++) {
            d[i] = ops.dim(t, i).value();
        }
        return List.of(d);
    }
}
