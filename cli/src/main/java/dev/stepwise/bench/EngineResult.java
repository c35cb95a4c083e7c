package dev.stepwise.bench;

import java.util.ArrayList;
import java.util.List;

/**
 * One engine's figures over its measured runs: the median prefill, the median decode step (every step of every
 * measured run is one sample), and the tokens it generated.
 */
public record EngineResult(String engine, double prefillMillis, double decodeMillisPerToken, long[][] tokens,
                    int prefillSamples, int decodeSamples) {

    static EngineResult of(String engine, List<DecodeRun> runs) {
        long[] prefill = new long[runs.size()];
        List<Long> steps = new ArrayList<>();
        for (int i = 0; i < runs.size(); i++) {
            prefill[i] = runs.get(i).prefillNanos();
            for (long n : runs.get(i).decodeNanos()) {
                steps.add(n);
            }
        }
        long[] decode = steps.stream().mapToLong(Long::longValue).toArray();
        return new EngineResult(engine, Median.millis(prefill), Median.millis(decode),
                runs.get(runs.size() - 1).tokens(), prefill.length, decode.length);
    }
}
