package dev.stepwise.annotations;

/** Element types of graph inputs and outputs. */
public enum DType {
    INT64, INT32, FLOAT, FLOAT16, BOOL
}
