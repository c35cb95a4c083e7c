package dev.stepwise.runtime.quantize;

import com.google.gson.JsonObject;
import java.util.Locale;

/**
 * How close one quantized file came to its float original on the evaluation inputs. {@code kind} is {@code decoder}
 * (next-token figures over every position), {@code encoder} (cosine of mean-pooled, normalised outputs) or {@code
 * loaded} (a graph the gate cannot feed, such as a loop or search graph or a decode step with a past: it was only
 * loaded in ONNX Runtime; it holds the same quantized weights and nodes as the gated decoder). Figures that do not
 * apply to the kind are NaN.
 *
 * @param file         the model file's name
 * @param kind         {@code decoder}, {@code encoder} or {@code loaded}
 * @param compared     positions (decoder) or inputs (encoder) compared; 0 for {@code loaded}
 * @param top1         decoder: fraction of positions whose next token (argmax) is unchanged, 0 to 1
 * @param meanKl       decoder: mean KL(float ‖ quantized) of the next-token distributions, in nats
 * @param maxLogitDiff decoder: the largest |logit difference| over every position and token
 * @param meanCosine   encoder: mean cosine similarity of the mean-pooled, normalised outputs
 * @param minCosine    encoder: the least of those cosines
 * @param passed       whether the file met the thresholds
 */
public record QualityFigures(String file, String kind, int compared, double top1, double meanKl, double maxLogitDiff,
                             double meanCosine, double minCosine, boolean passed) {

    static QualityFigures loaded(String file) {
        return new QualityFigures(file, "loaded", 0, Double.NaN, Double.NaN, Double.NaN, Double.NaN, Double.NaN, true);
    }

    /**
     * One line for the console.
     *
     * @return the kind, the file and its figures, marked {@code BELOW THRESHOLD} when it failed
     */
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
