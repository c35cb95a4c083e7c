package dev.stepwise.runtime.pipeline;

/** One class of a text-classification result: its {@code id2label} name, index and probability. */
public record LabelScore(String label, int index, double score) {
}
