package dev.stepwise.bench;

/** The {@code --optimize ort} export's figures in a bench run: ONNX Runtime's decode on it and its export time. */
public record FusedResult(EngineResult ort, double exportSeconds) {
}
