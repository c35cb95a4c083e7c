package dev.stepwise.bench;

import dev.stepwise.runtime.quantize.QuantizeMode;

/**
 * One quantized form's figures in a bench run: its weights file's bytes, the bytes a decode step reads
 * ({@link DecodeStepBytes}), ONNX Runtime's decode on it, and its own floor (those step bytes read at the bandwidth
 * the run's floor measured).
 */
public record QuantizedResult(QuantizeMode mode, long weightBytes, long stepBytes, EngineResult ort, double floorMillis,
                              double quantizeSeconds) {
    /** Decode time over its own floor. */
    public double vsFloor() {
        return ort.decodeMillisPerToken() / floorMillis;
    }
}
