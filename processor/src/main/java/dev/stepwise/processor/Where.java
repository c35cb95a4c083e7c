package dev.stepwise.processor;

import javax.lang.model.element.AnnotationMirror;
import javax.lang.model.element.AnnotationValue;

/**
 * A place inside an annotation that a diagnostic can point at: an annotation (possibly nested) and, optionally, one of
 * its values (possibly one element of an array value). Values the source does not spell out (defaults) have no
 * place of their own, so the reader hands out the nearest written enclosing annotation or value instead.
 */
record Where(AnnotationMirror mirror, AnnotationValue value) {
    static Where at(AnnotationMirror mirror) {
        return new Where(mirror, null);
    }
}
