package dev.stepwise.processor;

/** An annotation value together with the place to report a problem with it. */
record Located<T>(T value, Where where) {
}
