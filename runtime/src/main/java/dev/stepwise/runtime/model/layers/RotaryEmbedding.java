package dev.stepwise.runtime.model.layers;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import dev.stepwise.annotations.DType;
import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.model.ModelConfig;
import dev.stepwise.runtime.ops.Dim;
import dev.stepwise.runtime.ops.Ops;
import dev.stepwise.runtime.ops.Tensor;

/**
 * Rotary position embeddings as transformers' LLaMA family applies them: {@code x * cos + rotate_half(x) * sin}, where
 * {@code rotate_half} swaps the two halves of the head dimension and negates the (new) first half, and the angle of
 * frequency {@code i} at position {@code p} is {@code p * inv_freq[i]}, repeated for both halves.
 *
 * <p>Inverse frequencies are computed here, in Java, with the same float32 steps transformers takes, and enter the
 * graph as constants: the graph itself only multiplies positions by them and takes sin/cos. {@code rope_scaling}:
 * <ul>
 *   <li>{@code linear}: frequencies divided by {@code factor} (the same as positions divided by it);</li>
 *   <li>{@code llama3}: low frequencies (wavelength above {@code original_max_position_embeddings / low_freq_factor})
 *       divided by {@code factor}, high ones (below {@code original / high_freq_factor}) kept, the band between
 *       blended smoothly;</li>
 *   <li>{@code dynamic} (NTK): while the sequence is at most {@code max_position_embeddings} long the frequencies are
 *       the plain ones; beyond, the base becomes {@code theta * (factor * L / max - (factor - 1)) ^ (d / (d - 2))}
 *       for the current total length {@code L}. The length is a dim: a fixed-shape (gen-step) graph, and the eager
 *       reference, get the frequencies of their own length as constants; the dynamic decoder computes the rescaled
 *       frequencies in the graph from the attention mask's length and picks them with a {@code Where} when the
 *       length exceeds the maximum. transformers takes {@code L = max(position_ids) + 1}, the same number whenever a
 *       row of the batch is unpadded, and caches the largest frequencies seen across calls (grow-only); the graph
 *       is stateless, which gives the same result for every call of a generation, whose length only grows.</li>
 * </ul>
 */
public final class RotaryEmbedding {
    /** The {@code rope_scaling} types supported. */
    public enum Scaling { NONE, LINEAR, DYNAMIC, LLAMA3 }

    /** cos and sin of the angles, {@code [batch, 1, sequence, dim]}: they broadcast over the heads. */
    public record CosSin(Tensor cos, Tensor sin) {
    }

    private final int dim;
    private final double theta;
    private final Scaling scaling;
    private final double factor;
    private final double lowFreqFactor;
    private final double highFreqFactor;
    private final long originalMaxPositions;
    private final long maxPositions;

    private RotaryEmbedding(int dim, double theta, Scaling scaling, double factor, double lowFreqFactor,
                            double highFreqFactor, long originalMaxPositions, long maxPositions) {
        if (dim <= 0 || dim % 2 != 0) {
            throw new StepwiseException("rotary dimension must be even and positive, got " + dim);
        }
        this.dim = dim;
        this.theta = theta;
        this.scaling = scaling;
        this.factor = factor;
        this.lowFreqFactor = lowFreqFactor;
        this.highFreqFactor = highFreqFactor;
        this.originalMaxPositions = originalMaxPositions;
        this.maxPositions = maxPositions;
    }

    /** Plain rotary embedding of {@code dim} dimensions and base {@code theta}. */
    public static RotaryEmbedding plain(int dim, double theta) {
        return new RotaryEmbedding(dim, theta, Scaling.NONE, 1, 0, 0, 0, 0);
    }

    public static RotaryEmbedding linear(int dim, double theta, double factor) {
        return new RotaryEmbedding(dim, theta, Scaling.LINEAR, factor, 0, 0, 0, 0);
    }

    public static RotaryEmbedding dynamic(int dim, double theta, double factor, long maxPositions) {
        return new RotaryEmbedding(dim, theta, Scaling.DYNAMIC, factor, 0, 0, 0, maxPositions);
    }

    public static RotaryEmbedding llama3(int dim, double theta, double factor, double lowFreqFactor,
                                         double highFreqFactor, long originalMaxPositions) {
        return new RotaryEmbedding(dim, theta, Scaling.LLAMA3, factor, lowFreqFactor, highFreqFactor,
                originalMaxPositions, 0);
    }

    /**
     * Reads {@code rope_theta} (default 10000), the head dim ({@code head_dim} when given) and {@code rope_scaling}
     * ({@code rope_type} or its older name {@code type}); newer configs' {@code rope_parameters} are read the same way.
     * Anything unsupported is an error naming the file and key.
     */
    public static RotaryEmbedding fromConfig(ModelConfig config) {
        String where = config.source().toString();
        JsonObject json = config.json();
        JsonObject scalingJson = object(json, "rope_scaling", where);
        JsonObject parameters = object(json, "rope_parameters", where);
        double theta = config.getDouble("rope_theta", 10000.0);
        if (scalingJson == null && parameters != null) {
            scalingJson = parameters;
            theta = number(parameters, "rope_theta", where, "rope_parameters", theta);
        }
        if (!(theta > 0)) {
            throw new StepwiseException(where + ": rope_theta must be positive, got " + theta);
        }
        double partial = config.getDouble("partial_rotary_factor", 1.0);
        if (partial != 1.0) {
            throw new StepwiseException(where + ": partial_rotary_factor " + partial
                    + " is not supported (rotary embeddings cover the whole head here)");
        }
        int dim = config.headDim();
        if (scalingJson == null) {
            return plain(dim, theta);
        }
        String key = scalingJson == parameters ? "rope_parameters" : "rope_scaling";
        String type = scalingJson.has("rope_type") ? string(scalingJson, "rope_type", where, key)
                : scalingJson.has("type") ? string(scalingJson, "type", where, key) : "default";
        return switch (type) {
            case "default" -> plain(dim, theta);
            case "linear" -> linear(dim, theta, factor(scalingJson, where, key));
            case "dynamic" -> dynamic(dim, theta, factor(scalingJson, where, key), config.maxPositions());
            case "llama3" -> {
                double low = number(scalingJson, "low_freq_factor", where, key, Double.NaN);
                double high = number(scalingJson, "high_freq_factor", where, key, Double.NaN);
                double original = number(scalingJson, "original_max_position_embeddings", where, key, Double.NaN);
                if (Double.isNaN(low) || Double.isNaN(high) || Double.isNaN(original)) {
                    throw new StepwiseException(where + ": " + key + " of type llama3 needs factor, low_freq_factor, "
                            + "high_freq_factor and original_max_position_embeddings");
                }
                if (!(high > low)) {
                    throw new StepwiseException(where + ": " + key + ".high_freq_factor (" + high
                            + ") must be greater than low_freq_factor (" + low + ")");
                }
                yield llama3(dim, theta, factor(scalingJson, where, key), low, high, (long) original);
            }
            default -> throw new StepwiseException(where + ": " + key + " type '" + type
                    + "' is not supported (supported: default, linear, dynamic, llama3)");
        };
    }

    public int dim() {
        return dim;
    }

    public Scaling scaling() {
        return scaling;
    }

    /**
     * The {@code dim / 2} inverse frequencies for a sequence of {@code totalLength} tokens (past included); only the
     * dynamic scaling depends on the length. Float32 arithmetic in transformers' order, so the constants match its
     * buffers to the last bit or so.
     */
    public float[] inverseFrequencies(long totalLength) {
        return switch (scaling) {
            case NONE -> baseFrequencies((float) theta);
            case LINEAR -> {
                float[] inv = baseFrequencies((float) theta);
                for (int i = 0; i < inv.length; i++) {
                    inv[i] = inv[i] / (float) factor;
                }
                yield inv;
            }
            case DYNAMIC -> totalLength > maxPositions
                    ? baseFrequencies(dynamicBase(totalLength))
                    : baseFrequencies((float) theta);
            case LLAMA3 -> llama3Frequencies();
        };
    }

    /** {@code 1 / base ^ (2i / dim)}, as {@code 1.0 / (base ** (arange(0, dim, 2).float() / dim))}. */
    private float[] baseFrequencies(float base) {
        float[] inv = new float[dim / 2];
        float[] exponents = exponents();
        for (int i = 0; i < inv.length; i++) {
            inv[i] = 1f / (float) Math.pow(base, exponents[i]);
        }
        return inv;
    }

    private float[] exponents() {
        float[] e = new float[dim / 2];
        for (int i = 0; i < e.length; i++) {
            e[i] = (float) (2 * i) / (float) dim;
        }
        return e;
    }

    /** The NTK-rescaled base for a sequence longer than the maximum, in float32 like transformers' tensor math. */
    private float dynamicBase(long length) {
        float ratio = (float) factor * (float) length / (float) maxPositions - (float) (factor - 1);
        return (float) theta * (float) Math.pow(ratio, (float) ((double) dim / (dim - 2)));
    }

    private float[] llama3Frequencies() {
        float[] inv = baseFrequencies((float) theta);
        float lowWavelength = (float) (originalMaxPositions / lowFreqFactor);
        float highWavelength = (float) (originalMaxPositions / highFreqFactor);
        float twoPi = (float) (2 * Math.PI);
        for (int i = 0; i < inv.length; i++) {
            float wavelength = 1f / inv[i] * twoPi;
            float scaled = wavelength > lowWavelength ? inv[i] / (float) factor : inv[i];
            boolean medium = !(wavelength < highWavelength) && !(wavelength > lowWavelength);
            if (medium) {
                float smooth = (1f / wavelength * (float) originalMaxPositions - (float) lowFreqFactor)
                        / (float) (highFreqFactor - lowFreqFactor);
                scaled = (1f - smooth) * scaled / (float) factor + smooth * scaled;
            }
            inv[i] = scaled;
        }
        return inv;
    }

    /**
     * cos and sin of {@code position_ids * inv_freq} for every position of {@code positionIds} ({@code [B, S]}
     * int64); {@code totalLength} is past + new tokens (only dynamic scaling reads it). The angles and their cos/sin
     * are computed in float32 and handed out in the compute type, as transformers does.
     */
    public CosSin cosSin(Ops ops, Tensor positionIds, Dim totalLength) {
        Tensor inv = inverseFrequencies(ops, totalLength);
        Tensor positions = ops.unsqueeze(ops.cast(positionIds, DType.FLOAT), 2);        // [B, S, 1]
        Tensor angles = ops.mul(positions, inv);                                          // [B, S, D/2]
        Tensor both = ops.concat(-1, angles, angles);                                     // [B, S, D]
        Tensor cos = ops.unsqueeze(ops.cast(ops.cos(both), ops.floatType()), 1);
        Tensor sin = ops.unsqueeze(ops.cast(ops.sin(both), ops.floatType()), 1);
        return new CosSin(cos, sin);
    }

    /** The frequencies as a tensor: a constant, unless they depend on a length the trace does not know. */
    public Tensor inverseFrequencies(Ops ops, Dim totalLength) {
        if (scaling != Scaling.DYNAMIC || totalLength.isKnown()) {
            return ops.floats(inverseFrequencies(totalLength.isKnown() ? totalLength.value() : 0));
        }
        // In the graph, the same float32 steps as dynamicBase and baseFrequencies.
        Tensor length = ops.cast(ops.dimTensor(totalLength), DType.FLOAT);              // [1]
        Tensor ratio = ops.sub(ops.div(ops.mul(f32(ops, factor), length), f32(ops, maxPositions)), f32(ops, factor - 1));
        Tensor base = ops.mul(f32(ops, theta), ops.pow(ratio, (float) ((double) dim / (dim - 2))));
        Tensor rescaled = ops.div(f32(ops, 1), ops.pow(base, ops.floats(exponents())));   // [D/2]
        Tensor beyond = ops.greater(ops.dimTensor(totalLength), ops.longs(maxPositions));  // [1]
        return ops.where(beyond, rescaled, ops.floats(baseFrequencies((float) theta)));
    }

    private static Tensor f32(Ops ops, double value) {
        return ops.scalar((float) value, DType.FLOAT);
    }

    /** {@code x * cos + rotate_half(x) * sin} for {@code x} of shape {@code [B, heads, S, dim]}. */
    public Tensor apply(Ops ops, Tensor x, CosSin cs) {
        return ops.add(ops.mul(x, cs.cos()), ops.mul(rotateHalf(ops, x), cs.sin()));
    }

    /** {@code [x1, x2] -> [-x2, x1]} over the two halves of the last axis. */
    public Tensor rotateHalf(Ops ops, Tensor x) {
        Tensor first = ops.slice(x, -1, Dim.of(0), Dim.of(dim / 2));
        Tensor second = ops.slice(x, -1, Dim.of(dim / 2), Dim.of(dim));
        return ops.concat(-1, ops.neg(second), first);
    }

    // ---- config reading ----

    private static JsonObject object(JsonObject json, String key, String where) {
        JsonElement e = json.get(key);
        if (e == null || e.isJsonNull()) {
            return null;
        }
        if (!e.isJsonObject()) {
            throw new StepwiseException(where + ": key '" + key + "' must be an object or null, found " + e);
        }
        return e.getAsJsonObject();
    }

    private static String string(JsonObject o, String key, String where, String parent) {
        JsonElement e = o.get(key);
        if (e == null || !e.isJsonPrimitive() || !e.getAsJsonPrimitive().isString()) {
            throw new StepwiseException(where + ": " + parent + "." + key + " must be a string, found " + e);
        }
        return e.getAsString();
    }

    private static double number(JsonObject o, String key, String where, String parent, double fallback) {
        JsonElement e = o.get(key);
        if (e == null || e.isJsonNull()) {
            return fallback;
        }
        if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isNumber()) {
            throw new StepwiseException(where + ": " + parent + "." + key + " must be a number, found " + e);
        }
        return e.getAsDouble();
    }

    private static double factor(JsonObject o, String where, String parent) {
        double f = number(o, "factor", where, parent, Double.NaN);
        if (Double.isNaN(f)) {
            throw new StepwiseException(where + ": " + parent + " needs a 'factor'");
        }
        if (!(f > 0)) {
            throw new StepwiseException(where + ": " + parent + ".factor must be positive, got " + f);
        }
        return f;
    }
}
