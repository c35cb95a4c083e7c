package dev.stepwise.bench;

import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.quantize.QuantizeMode;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;

/**
 * The cells of {@code bench --matrix}: each export variant ({@code plain}, {@code ort} for {@code --optimize ort},
 * {@code ort-kv} for {@code --optimize ort --max-length} with the grid's longest cell as the cache's capacity) in
 * each precision ({@code fp32}, {@code int8}, {@code int4}), at each batch size, decoding at each past length (a
 * prefill of that many tokens, then {@code decodeSteps} timed steps) and prefilling each prompt length. The default is
 * issue 12's full grid.
 */
public record MatrixGrid(List<String> variants, List<String> precisions, List<Integer> batches, List<Integer> pasts,
                         List<Integer> prefills, int decodeSteps) {
    public static final List<String> VARIANTS = List.of("plain", "ort", "ort-kv");
    public static final List<String> PRECISIONS = List.of("fp32", "int8", "int4");

    public MatrixGrid {
        variants = known("--variants", variants, VARIANTS);
        precisions = known("--precisions", precisions, PRECISIONS);
        batches = positive("--batches", batches);
        pasts = positive("--pasts", pasts);
        prefills = positive("--prefills", prefills);
        if (decodeSteps < 1) {
            throw new StepwiseException("--decode-steps must be at least 1, got " + decodeSteps);
        }
    }

    /** Issue 12's grid: the three variants, three precisions, batch 1 and 8, past 32/512/2048, prefill 128/1024. */
    public static MatrixGrid full() {
        return new MatrixGrid(VARIANTS, PRECISIONS, List.of(1, 8), List.of(32, 512, 2048), List.of(128, 1024), 4);
    }

    /**
     * The positions the longest cell of the grid needs (a decode cell's past plus its tokens, a prefill's prompt plus
     * two), capped at the model's {@code maxPositions} (longer cells are skipped anyway): the {@code ort-kv} variant's
     * cache capacity.
     */
    int longestCell(int maxPositions) {
        int longest = 0;
        for (int p : pasts) {
            longest = Math.max(longest, p + decodeSteps + 1);
        }
        for (int p : prefills) {
            longest = Math.max(longest, p + 2);
        }
        return Math.min(longest, maxPositions);
    }

    /** The quantize mode of a precision; null for fp32 (the export itself). */
    static QuantizeMode mode(String precision) {
        return precision.equals("fp32") ? null : QuantizeMode.fromCliName(precision);
    }

    /** Parses a comma-separated list of positive integers ({@code flag} names the option in the error). */
    public static List<Integer> ints(String flag, String csv) {
        List<Integer> values = new ArrayList<>();
        for (String part : csv.split(",", -1)) {
            try {
                values.add(Integer.parseInt(part.strip()));
            } catch (NumberFormatException e) {
                throw new StepwiseException(flag + ": expected comma-separated whole numbers, got '" + csv + "'");
            }
        }
        return values;
    }

    /** Parses a comma-separated list of names. */
    public static List<String> names(String csv) {
        List<String> values = new ArrayList<>();
        for (String part : csv.split(",", -1)) {
            values.add(part.strip().toLowerCase(Locale.ROOT));
        }
        return values;
    }

    private static List<String> known(String flag, List<String> values, List<String> allowed) {
        if (values.isEmpty()) {
            throw new StepwiseException(flag + ": expected at least one of " + String.join(", ", allowed));
        }
        for (String v : values) {
            if (!allowed.contains(v)) {
                throw new StepwiseException(flag + ": expected " + String.join(", ", allowed) + ", got '" + v + "'");
            }
        }
        return List.copyOf(new LinkedHashSet<>(values));
    }

    private static List<Integer> positive(String flag, List<Integer> values) {
        if (values.isEmpty()) {
            throw new StepwiseException(flag + ": expected at least one value");
        }
        for (int v : values) {
            if (v < 1) {
                throw new StepwiseException(flag + ": values must be at least 1, got " + v);
            }
        }
        return List.copyOf(new LinkedHashSet<>(values));
    }
}
