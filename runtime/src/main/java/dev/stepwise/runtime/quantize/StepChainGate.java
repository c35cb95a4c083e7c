package dev.stepwise.runtime.quantize;

import dev.stepwise.runtime.tensor.Argmax;
import dev.stepwise.runtime.tensor.HostTensor;
import dev.stepwise.runtime.unroll.StepGraphs;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The quality gate of an unrolled folder: the float and the quantized step chains run side by side on windows of the
 * evaluation inputs (teacher-forced, {@link StepChain}), and the next-token logits are compared at every step, every
 * position the step returns (all L of the prefill unless it keeps only the last, one for each later step): top-1
 * agreement, mean KL(float ‖ quantized), max |logit diff|, overall and per step. {@link QualityGate} compares each step
 * graph alone, which for the steps after 0 (fed a past) it can only load; this follows the KV cache through.
 */
final class StepChainGate {
    private final QuantizeOptions options;

    StepChainGate(QuantizeOptions options) {
        this.options = options;
    }

    /** Figures of the whole chain, and per step. */
    record ChainFigures(QualityFigures all, double[] top1PerStep, double[] klPerStep) {
        String perStep() {
            StringBuilder b = new StringBuilder("per step top-1");
            for (double t : top1PerStep) {
                b.append(String.format(Locale.ROOT, " %.3f", t));
            }
            return b.toString();
        }
    }

    ChainFigures compare(Path floatDir, Path quantizedDir, Path tokenizerDir) {
        List<long[]> rows = EvalInputs.rows(options.eval(), "decoder", tokenizerDir);
        try (StepGraphs f = StepGraphs.open(floatDir, options.threads());
             StepGraphs q = StepGraphs.open(quantizedDir, options.threads())) {
            int steps = f.manifest().steps().size();
            long[] agreed = new long[steps];
            long[] count = new long[steps];
            double[] kl = new double[steps];
            double[] maxDiff = new double[1];
            String logits = f.logitsName();
            for (long[][] window : StepChain.windows(rows, f, options.eval() == null ? "the evaluation set" : "--eval " + options.eval())) {
                List<HostTensor> a = new ArrayList<>();
                List<HostTensor> b = new ArrayList<>();
                StepChain.run(f, window, (s, out) -> a.add(out.get(logits)));
                StepChain.run(q, window, (s, out) -> b.add(out.get(logits)));
                for (int s = 0; s < steps; s++) {
                    float[] x = a.get(s).floats();
                    float[] y = b.get(s).floats();
                    int vocab = (int) a.get(s).dim(a.get(s).shape().length - 1);
                    for (int off = 0; off < x.length; off += vocab) {
                        agreed[s] += Argmax.of(x, off, vocab) == Argmax.of(y, off, vocab) ? 1 : 0;
                        kl[s] += QualityGate.klDivergence(x, y, off, vocab);
                        for (int v = 0; v < vocab; v++) {
                            maxDiff[0] = Math.max(maxDiff[0], Math.abs(x[off + v] - y[off + v]));
                        }
                        count[s]++;
                    }
                }
            }
            long positions = 0;
            long agreedAll = 0;
            double klAll = 0;
            double[] top1PerStep = new double[steps];
            double[] klPerStep = new double[steps];
            for (int s = 0; s < steps; s++) {
                positions += count[s];
                agreedAll += agreed[s];
                klAll += kl[s];
                top1PerStep[s] = (double) agreed[s] / count[s];
                klPerStep[s] = kl[s] / count[s];
            }
            double top1 = (double) agreedAll / positions;
            double meanKl = klAll / positions;
            boolean passed = top1 >= options.minTop1() && meanKl <= options.maxKl();
            QualityFigures all = new QualityFigures("step chain (" + steps + " steps)", "decoder", (int) positions,
                    top1, meanKl, maxDiff[0], Double.NaN, Double.NaN, passed);
            return new ChainFigures(all, top1PerStep, klPerStep);
        }
    }
}
