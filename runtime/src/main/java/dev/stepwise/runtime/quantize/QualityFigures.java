package dev.stepwise.runtime.quantize;

import com.google.gson.JsonObject;
import java.util.Locale;

/**
 * How close one quantized file came to its float original on the evaluation inputs. {@code kind} is {@code decoder}
 * (next-token figures over every position), {@code encoder} (cosine of mean-pooled, normalised outputs) or {@code
 * loaded} (a graph the gate cannot feed, such as a loop or search graph or a decode step with a past: it was only
 * loaded in ONNX Runtime; it holds the same quantized weights and nodes as the gated decoder).
 */
public record QualityFigures(String file, String kind, int compared, double top1, double meanKl, double maxLogitDiff,
                             double meanCosine, double minCosine, boolean passed) {

    static QualityFigures loaded(String file) {
        return new QualityFigures(file, "loaded", 0, Double.NaN, Double.NaN, Double.NaN, Double.NaN, Double.NaN, true);
    }

    /** One line for the console. */
    public String summary() {
        String figures = switch (kind) {
            case "decoder" -> String.format(Locale.ROOT, "top-1 agreement %.4f over %d positions, mean KL %.2e,"
                    + " max |logit diff| %.3f", top1, compared, meanKl, maxLogitDiff);
            case "encoder" -> String.format(Locale.ROOT, "cosine mean %.5f, min %.5f over %d inputs", meanCosine,
                    minCosine, compared);
            default -> "loads in ONNX Runtime";
        };
        return String.format(Locale.ROOT, "%-8s %-40s %s%s", kind, file, figures, passed ? "" : "  BELOW THRESHOLD");
    }

    JsonObject toJson() {
        JsonObject o = new JsonObject();
        o.addProperty("file", file);
        o.addProperty("kind", kind);
        o.addProperty("passed", passed);
        if (kind.equals("decoder")) {
            o.addProperty("positions", compared);
            o.addProperty("top1_agreement", top1);
            o.addProperty("mean_kl", meanKl);
            o.addProperty("max_abs_logit_diff", maxLogitDiff);
        } else if (kind.equals("encoder")) {
            o.addProperty("inputs", compared);
            o.addProperty("mean_cosine", meanCosine);
            o.addProperty("min_cosine", minCosine);
        }
        return o;
    }
}
