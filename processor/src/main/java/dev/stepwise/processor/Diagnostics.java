package dev.stepwise.processor;

import javax.annotation.processing.Messager;
import javax.lang.model.element.Element;
import javax.lang.model.element.TypeElement;
import javax.tools.Diagnostic;

/**
 * The errors of the annotated class being validated, reported through the {@link Messager} and counted. Every
 * validator reports through one, so an encoder-decoder's checks and the encoder checks it reuses count together.
 */
final class Diagnostics {
    private final Messager messager;
    private TypeElement type;
    private int errors;

    Diagnostics(Messager messager) {
        this.messager = messager;
    }

    /** Starts on {@code type}: errors are reported on it from now on, counted from zero. */
    void start(TypeElement type) {
        this.type = type;
        errors = 0;
    }

    TypeElement type() {
        return type;
    }

    /** True when no error was reported since {@link #start}. */
    boolean clean() {
        return errors == 0;
    }

    /** An error on the annotated class, at {@code where} inside its annotation. */
    void error(Where where, String message) {
        errors++;
        messager.printMessage(Diagnostic.Kind.ERROR, message, type, where.mirror(), where.value());
    }

    void error(Element element, String message) {
        errors++;
        messager.printMessage(Diagnostic.Kind.ERROR, message, element);
    }
}
