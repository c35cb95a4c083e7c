package dev.stepwise.runtime.checkpoint;

import java.util.List;
import java.util.Map;

/**
 * What the GPT-2, GPT-Neo, OPT and BioGPT random layouts have in common: transformers' init std, the spread of
 * LayerNorm scales, the LayerNorm / {@code nn.Linear} / {@code Conv1D} tensor pairs, and the preset lookup. Each
 * layout keeps its own names, shapes and config.
 */
final class LayoutTensors {
    /** transformers' {@code initializer_range}: the std of every weight matrix and embedding. */
    static final double INIT_STD = 0.02;
    /** Spread of LayerNorm scales around 1; larger than the init std so tests notice a misplaced scale. */
    static final double NORM_STD = 0.1;

    private LayoutTensors() {
    }

    /** The named preset of {@code arch}, or an {@link IllegalArgumentException} naming both. */
    static <P> P preset(Map<String, P> presets, String arch, String preset) {
        P p = presets.get(preset);
        if (p == null) {
            throw new IllegalArgumentException("no " + arch + " preset '" + preset + "'");
        }
        return p;
    }

    /** LayerNorm: weight around 1, bias {@code [e]}. */
    static void addLayerNorm(List<RandomTensor> t, String prefix, long e) {
        t.add(RandomTensor.aroundOne(prefix + ".weight", NORM_STD, e));
        t.add(RandomTensor.normal(prefix + ".bias", INIT_STD, e));
    }

    /** {@code nn.Linear}: weight {@code [out, in]}, bias {@code [out]}; biases random (not 0) so tests see them. */
    static void addLinear(List<RandomTensor> t, String prefix, long in, long out) {
        t.add(RandomTensor.normal(prefix + ".weight", INIT_STD, out, in));
        t.add(RandomTensor.normal(prefix + ".bias", INIT_STD, out));
    }

    /** transformers' Conv1D: weight {@code [in, out]}, bias {@code [out]}; biases random (not 0) so tests see them. */
    static void addConv1D(List<RandomTensor> t, String prefix, long in, long out) {
        t.add(RandomTensor.normal(prefix + ".weight", INIT_STD, in, out));
        t.add(RandomTensor.normal(prefix + ".bias", INIT_STD, out));
    }
}
