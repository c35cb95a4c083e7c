package dev.stepwise.runtime.ops;

import dev.stepwise.annotations.DType;
import dev.stepwise.runtime.model.DecoderInputs;
import dev.stepwise.runtime.model.layers.Activations;
import dev.stepwise.runtime.model.layers.CausalAttention;
import dev.stepwise.runtime.model.layers.EncoderAttention;
import dev.stepwise.runtime.model.layers.RotaryAttention;
import java.util.function.Supplier;

/**
 * The tensor interface an architecture's forward is written against, once. Two backends implement it: one records
 * ONNX nodes (the export), one runs eagerly on DJL's PyTorch engine (the reference the export is checked against).
 * A third, {@link ShapeOps}, computes shapes only: run on it, the forward yields the weights it declares.
 *
 * <p>Conventions: axes may be negative (counted from the end); floating tensors are of the compute type
 * {@link #floatType()} (float32, or float16 for a half-precision export) unless a method says otherwise; integer index
 * tensors are int64; broadcasting follows numpy rules. Where transformers computes a step in float32 whatever the
 * model's dtype (RMSNorm, rotary angles, some softmaxes), a forward casts up and back down with {@link #cast}; in a
 * float32 forward those casts return their input, so they leave no trace.
 *
 * <p>Fused layers ({@link #rmsNorm}, {@link #addRmsNorm}, {@link #rotaryAttention}, {@link #addLayerNorm},
 * {@link #biasActivation}, {@link #causalAttention}) are composed of the primitives by
 * default: the plain export, the PyTorch reference and the shape-only run all take that composition. A tracing backend
 * writing ONNX Runtime's fused operators ({@code export --optimize ort}) emits each as one {@code com.microsoft} node
 * instead, so an architecture written with them stays one class.
 */
public interface Ops {

    /** The element type of weights, activations, the KV cache and logits: {@code FLOAT} or {@code FLOAT16}. */
    DType floatType();

    // ---- sources ----
    //
    // A forward declares each weight where it uses it, with its shape: weight(name, shape...), weightTransposed(name,
    // out, in), weightOr / tiedWeight for tensors a checkpoint may leave out. That one declaration is all there is:
    // the expected-weights check and random checkpoints come from running the forward on ShapeOps, which records the
    // declarations. The backends that read a checkpoint take the stored shape (checked against the declared one
    // before anything is traced) and ignore the declared one.

    /**
     * Checkpoint tensor by its name in the checkpoint, in {@link #floatType()} (converted as needed), of the shape it is
     * stored with. The primitive the declaring methods below reach; forwards use those.
     */
    Tensor weight(String name);

    /**
     * Checkpoint matrix {@code [out, in]} (nn.Linear layout) handed out as its transpose {@code [in, out]}, so that
     * {@code matmul(x, weightTransposed(w))} is {@code x @ w.T}. The tracing backend stores it transposed once.
     */
    Tensor weightTransposed(String name);

    /** True when the checkpoint holds a tensor of this name (e.g. an untied {@code lm_head.weight}). */
    boolean hasWeight(String name);

    /** The checkpoint tensor {@code name}, which must be there with this {@code shape}; drawn {@link WeightInit#NORMAL}. */
    default Tensor weight(String name, long... shape) {
        return weight(name, WeightInit.NORMAL, shape);
    }

    /** As {@link #weight(String, long...)}, saying how a random checkpoint draws it (e.g. a norm's scale). */
    default Tensor weight(String name, WeightInit init, long... shape) {
        return weight(name);
    }

    /** The checkpoint matrix {@code name}, stored {@code [out, in]}, as its transpose {@code [in, out]}. */
    default Tensor weightTransposed(String name, long out, long in) {
        return weightTransposed(name, WeightInit.NORMAL, out, in);
    }

    /** As {@link #weightTransposed(String, long, long)}, saying how a random checkpoint draws it. */
    default Tensor weightTransposed(String name, WeightInit init, long out, long in) {
        return weightTransposed(name);
    }

    /**
     * The checkpoint tensor {@code name} of this {@code shape} when the checkpoint has one, else {@code fallback} (of
     * the same shape): an LM head that is the token embedding unless the checkpoint saves its own. Random checkpoints
     * leave it out.
     */
    default Tensor weightOr(String name, Tensor fallback, long... shape) {
        return hasWeight(name) ? weight(name) : fallback;
    }

    /**
     * A tensor tied to {@code tiedTo}: a checkpoint may save a copy under {@code name} (then it must have this
     * {@code shape}), but the forward always uses {@code tiedTo}, as transformers does once it ties the weights.
     * Returns {@code tiedTo}. Random checkpoints leave it out.
     */
    default Tensor tiedWeight(String name, Tensor tiedTo, long... shape) {
        return tiedTo;
    }

    /** A scalar constant (rank 0) of {@link #floatType()}. */
    default Tensor scalar(float value) {
        return scalar(value, floatType());
    }

    /** A scalar constant (rank 0) of a floating type: {@code FLOAT} inside a float32 step of a half-precision forward. */
    Tensor scalar(float value, DType type);

    /** An int64 constant of rank 1. */
    Tensor longs(long... values);

    /**
     * A float32 constant of rank 1, whatever {@link #floatType()} is: values computed in Java for a float32 step
     * (rotary inverse frequencies).
     */
    Tensor floats(float... values);

    // ---- dims ----

    /** Size of {@code axis} of {@code x}. */
    Dim dim(Tensor x, int axis);

    /**
     * Dim arithmetic. The defaults serve backends whose dims are all numbers (the PyTorch reference, the shape-only
     * backend); a tracing backend overrides them with symbolic dims.
     */
    default Dim add(Dim a, Dim b) {
        return Dim.of(knownValue(a) + knownValue(b));
    }

    default Dim sub(Dim a, Dim b) {
        return Dim.of(knownValue(a) - knownValue(b));
    }

    default Dim mul(Dim a, Dim b) {
        return Dim.of(knownValue(a) * knownValue(b));
    }

    private static long knownValue(Dim d) {
        if (!d.isKnown()) {
            throw new IllegalArgumentException("this backend has only known dims, got " + d);
        }
        return d.value();
    }

    /** An int64 rank-1 tensor of length 1 holding the dim (for use in arithmetic with tensors). */
    Tensor dimTensor(Dim d);

    // ---- layout ----

    /** Reshape; one entry may be {@code Dim.of(-1)} (inferred). */
    Tensor reshape(Tensor x, Dim... shape);

    Tensor transpose(Tensor x, int... perm);

    Tensor concat(int axis, Tensor... xs);

    /** {@code x[..., start:end, ...]} along {@code axis}. */
    Tensor slice(Tensor x, int axis, Dim start, Dim end);

    Tensor unsqueeze(Tensor x, int... axes);

    /** Rows of {@code table} (axis 0) picked by int64 {@code indices}: an embedding lookup. */
    Tensor gather(Tensor table, Tensor indices);

    /** Element type conversion. */
    Tensor cast(Tensor x, DType to);

    // ---- arithmetic ----

    Tensor add(Tensor a, Tensor b);

    Tensor sub(Tensor a, Tensor b);

    Tensor mul(Tensor a, Tensor b);

    Tensor div(Tensor a, Tensor b);

    /** Batched matrix product over the last two axes. */
    Tensor matmul(Tensor a, Tensor b);

    /** {@code a @ b^T} for a 2-D {@code b} of shape {@code [n, k]}: a tied LM head without a transposed copy. */
    Tensor matmulTransposedB(Tensor a, Tensor b);

    Tensor pow(Tensor x, float exponent);

    /** Element-wise {@code x ^ exponent} with a tensor exponent of x's type, broadcast. */
    Tensor pow(Tensor x, Tensor exponent);

    Tensor sqrt(Tensor x);

    Tensor tanh(Tensor x);

    Tensor exp(Tensor x);

    Tensor neg(Tensor x);

    Tensor relu(Tensor x);

    Tensor sigmoid(Tensor x);

    /** Exact GELU, {@code x * 0.5 * (1 + erf(x / sqrt 2))}. */
    Tensor gelu(Tensor x);

    Tensor sin(Tensor x);

    Tensor cos(Tensor x);

    Tensor softmax(Tensor x, int axis);

    /**
     * Layer normalization over the last axis: {@code (x - mean) / sqrt(var + eps) * gamma + beta}; beta may be null.
     * Mean and variance are computed in float32 whatever x's type (as ONNX's LayerNormalization does by default).
     */
    Tensor layerNorm(Tensor x, Tensor gamma, Tensor beta, float eps);

    Tensor reduceMean(Tensor x, int axis, boolean keepDims);

    // ---- indices and masks ----

    /** int64 {@code [start, start+1, ..., end-1]}. */
    Tensor range(Dim start, Dim end);

    /** Inclusive prefix sum along {@code axis} (int64 or float). */
    Tensor cumsum(Tensor x, int axis);

    /** Element-wise {@code a <= b} (bool). */
    Tensor lessOrEqual(Tensor a, Tensor b);

    /** Element-wise {@code a > b} (bool). */
    Tensor greater(Tensor a, Tensor b);

    /** Element-wise logical and of two bool tensors. */
    Tensor and(Tensor a, Tensor b);

    /** {@code cond ? a : b}, broadcast. */
    Tensor where(Tensor cond, Tensor a, Tensor b);

    // ---- fused layers (composed of the ops above unless a backend fuses them) ----

    /**
     * RMSNorm over the last axis, {@code weight * x / sqrt(mean(x^2) + eps)}, normalized in float32 as transformers'
     * {@code LlamaRMSNorm} does: from x up to the normalized value in float32, then back to x's type before the weight.
     */
    default Tensor rmsNorm(Tensor x, Tensor weight, float eps) {
        Tensor x32 = cast(x, DType.FLOAT);
        Tensor meanSquare = reduceMean(pow(x32, 2f), -1, true);
        Tensor inverseRms = div(scalar(1f, DType.FLOAT), sqrt(add(meanSquare, scalar(eps, DType.FLOAT))));
        return mul(weight, cast(mul(x32, inverseRms), x.type()));
    }

    /** {@code residual + delta} and its {@link #rmsNorm}: a pre-norm block's residual add and the next norm. */
    default ResidualNorm addRmsNorm(Tensor residual, Tensor delta, Tensor weight, float eps) {
        Tensor sum = add(residual, delta);
        return new ResidualNorm(sum, rmsNorm(sum, weight, eps));
    }

    /**
     * Runs {@code body} and returns its result, telling the backend that every tensor {@code body} makes besides
     * that result is dead once it returns. A graph backend ignores it (the default); the PyTorch reference frees those
     * tensors at once, so an attention layer's score matrices, the largest tensors of a long prefill, do not pile up
     * across layers until the step ends. Only tensors made inside {@code body} may be freed: its inputs are untouched.
     *
     * @param body the computation; it must not keep references to its intermediates
     * @return what {@code body} returns
     */
    default Tensor scoped(Supplier<Tensor> body) {
        return body.get();
    }

    /**
     * Causal self-attention with rotary embeddings over the KV cache, set up once per forward for {@code inputs}
     * (mask, rotary angles) and applied per layer: {@link RotaryAttention#composed} unless the backend fuses it.
     */
    default RotaryAttention rotaryAttention(RotaryAttention.Spec spec, DecoderInputs inputs) {
        return RotaryAttention.composed(this, spec, inputs);
    }

    /**
     * {@code residual + (delta + deltaBias)} and its {@link #layerNorm}: a pre-norm block's residual add and the next
     * LayerNorm, {@code deltaBias} the bias of the projection that made {@code delta} (null when it has none or has
     * added it). The scale and shift are asked for after the add, where a forward declares them when it writes the
     * two steps.
     */
    default ResidualNorm addLayerNorm(Tensor residual, Tensor delta, Tensor deltaBias, Supplier<Tensor> gamma,
                                      Supplier<Tensor> beta, float eps) {
        Tensor sum = add(residual, deltaBias == null ? delta : add(delta, deltaBias));
        return new ResidualNorm(sum, layerNorm(sum, gamma.get(), beta.get(), eps));
    }

    /** {@link Activations#apply} of {@code x + bias}: a projection's bias and the activation after it. */
    default Tensor biasActivation(String activation, Tensor x, Tensor bias) {
        return Activations.apply(this, activation, add(x, bias));
    }

    /**
     * Causal self-attention with learned positions over the KV cache, set up once per forward for {@code inputs}
     * (the mask) and applied per layer: {@link CausalAttention#composed} unless the backend fuses it.
     */
    default CausalAttention causalAttention(CausalAttention.Spec spec, DecoderInputs inputs) {
        return CausalAttention.composed(this, spec, inputs);
    }

    /**
     * An encoder's bidirectional self-attention, set up once per forward for {@code attentionMask} ({@code [B, S]},
     * 0 = padding) and applied per layer: {@link EncoderAttention#composed} unless the backend fuses it.
     */
    default EncoderAttention encoderAttention(EncoderAttention.Spec spec, Tensor attentionMask) {
        return EncoderAttention.composed(this, spec, attentionMask);
    }
}
