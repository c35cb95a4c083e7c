package dev.stepwise.processor;

import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.function.BiConsumer;
import javax.lang.model.element.Element;
import javax.lang.model.element.ElementKind;
import javax.lang.model.element.ExecutableElement;
import javax.lang.model.element.Modifier;
import javax.lang.model.element.TypeElement;
import javax.lang.model.type.DeclaredType;
import javax.lang.model.type.TypeKind;
import javax.lang.model.type.TypeMirror;
import javax.lang.model.util.ElementFilter;
import javax.lang.model.util.Types;

/**
 * What every annotated architecture class must be, whatever its annotation: a public, concrete, non-generic class
 * (top-level or static nested in public classes) with a public no-argument constructor, implementing the runtime
 * interface its generated exporter instantiates. Parameterised by that interface's name, so decoder, encoder and
 * encoder-decoder declarations share one check. {@code annotation} is as written in messages
 * ({@code "@EncoderConfig"}), {@code interfaceName} fully qualified.
 */
record AnnotatedClassCheck(Types types, String annotation, String interfaceName) {
    /** Reports each problem of {@code type} through {@code error}. */
    void check(TypeElement type, BiConsumer<Element, String> error) {
        String name = type.getSimpleName().toString();
        if (type.getKind() != ElementKind.CLASS) {
            error.accept(type, annotation + " must be on a class; " + name + " is " + article(type.getKind())
                    + ", expected a public class implementing " + interfaceName);
            return;
        }
        if (!implementsInterface(type.asType(), new HashSet<>())) {
            error.accept(type, "class " + name + " does not implement " + interfaceName
                    + "; expected it to, since its forward is what gets exported");
        }
        if (!type.getModifiers().contains(Modifier.PUBLIC)) {
            error.accept(type, "class " + name + " is not public; expected a public class, since the runtime creates"
                    + " it through its generated exporter");
        }
        if (type.getModifiers().contains(Modifier.ABSTRACT)) {
            error.accept(type, "class " + name + " is abstract; expected a concrete class, since its generated"
                    + " exporter creates it with new " + name + "()");
        }
        if (!type.getTypeParameters().isEmpty()) {
            error.accept(type, "class " + name + " declares type parameters; expected a non-generic class, since its"
                    + " generated exporter creates it with new " + name + "()");
        }
        if (GeneratedNames.isNested(type)) {
            if (!type.getModifiers().contains(Modifier.STATIC)) {
                error.accept(type, "class " + name + " is an inner (non-static) class; expected a top-level or static"
                        + " nested class, since its generated exporter creates it without an enclosing instance");
            }
            for (Element outer = type.getEnclosingElement(); outer instanceof TypeElement t;
                    outer = outer.getEnclosingElement()) {
                if (!t.getModifiers().contains(Modifier.PUBLIC)) {
                    error.accept(type, "class " + name + " is nested in " + t.getSimpleName()
                            + ", which is not public; expected every enclosing class to be public");
                }
            }
        }
        List<ExecutableElement> constructors = ElementFilter.constructorsIn(type.getEnclosedElements());
        Optional<ExecutableElement> noArg = constructors.stream().filter(c -> c.getParameters().isEmpty()).findFirst();
        if (noArg.isEmpty()) {
            error.accept(type, "class " + name + " has no public no-argument constructor; expected one, since its"
                    + " generated exporter creates it with new " + name + "()");
        } else if (!noArg.get().getModifiers().contains(Modifier.PUBLIC)) {
            error.accept(noArg.get(), "the no-argument constructor of " + name + " is not public; expected a public"
                    + " no-argument constructor, since the generated exporter creates it with new " + name + "()");
        }
    }

    /** By name, so the processor needs no runtime on its class path; an unresolved supertype counts as a match. */
    private boolean implementsInterface(TypeMirror t, Set<String> seen) {
        if (t.getKind() == TypeKind.ERROR) {
            return true;
        }
        if (t.getKind() != TypeKind.DECLARED) {
            return false;
        }
        String qualified = ((TypeElement) ((DeclaredType) t).asElement()).getQualifiedName().toString();
        if (qualified.equals(interfaceName)) {
            return true;
        }
        if (!seen.add(qualified)) {
            return false;
        }
        for (TypeMirror s : types.directSupertypes(t)) {
            if (implementsInterface(s, seen)) {
                return true;
            }
        }
        return false;
    }

    private static String article(ElementKind kind) {
        String k = kind.name().toLowerCase(Locale.ROOT).replace('_', ' ');
        return (k.matches("^[aeiou].*") ? "an " : "a ") + k;
    }
}
