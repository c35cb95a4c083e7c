package dev.stepwise.runtime.model.layers;

import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.model.ModelConfig;
import dev.stepwise.runtime.ops.Ops;
import dev.stepwise.runtime.ops.Tensor;

/** The activation functions transformers names in {@code config.json} ({@code activation_function}, {@code hidden_act}). */
public final class Activations {
    private Activations() {
    }

    /** Checks a name early, so a bad config fails before anything is traced. */
    public static void check(String name, String where) {
        switch (name) {
            case "gelu_new", "gelu_pytorch_tanh", "gelu_fast", "gelu", "relu", "silu", "swish", "tanh", "quick_gelu" -> {
            }
            default -> throw new StepwiseException(where + ": unsupported activation function '" + name
                    + "' (supported: gelu_new, gelu_pytorch_tanh, gelu_fast, gelu, relu, silu, swish, tanh, quick_gelu)");
        }
    }

    /** The activation a config names under {@code key} ({@code defaultName} when absent), checked as {@link #check} does. */
    public static String read(ModelConfig config, String key, String defaultName) {
        String name = config.getString(key, defaultName);
        check(name, config.source().toString());
        return name;
    }

    public static Tensor apply(Ops ops, String name, Tensor x) {
        return switch (name) {
            case "gelu_new", "gelu_pytorch_tanh", "gelu_fast" -> geluTanh(ops, x);
            case "gelu" -> ops.gelu(x);
            case "relu" -> ops.relu(x);
            case "silu", "swish" -> ops.mul(x, ops.sigmoid(x));
            case "tanh" -> ops.tanh(x);
            case "quick_gelu" -> ops.mul(x, ops.sigmoid(ops.mul(x, ops.scalar(1.702f))));
            default -> throw new StepwiseException("unsupported activation function '" + name + "'");
        };
    }

    /** The tanh approximation of GELU: {@code 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))}. */
    public static Tensor geluTanh(Ops ops, Tensor x) {
        Tensor inner = ops.mul(ops.scalar((float) Math.sqrt(2.0 / Math.PI)),
                ops.add(x, ops.mul(ops.scalar(0.044715f), ops.pow(x, 3.0f))));
        return ops.mul(ops.mul(ops.scalar(0.5f), x), ops.add(ops.scalar(1.0f), ops.tanh(inner)));
    }
}
