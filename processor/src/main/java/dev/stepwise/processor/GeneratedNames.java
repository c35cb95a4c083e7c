package dev.stepwise.processor;

import com.squareup.javapoet.ClassName;
import javax.lang.model.element.Element;
import javax.lang.model.element.ElementKind;
import javax.lang.model.element.TypeElement;

/**
 * Names of the classes generated for an annotated class {@code X}: {@code XExporter}, {@code XConfig} and
 * {@code XDummyInputs}, in {@code X}'s package. A nested class {@code Outer.X} gets {@code Outer_XExporter}, so two
 * nested classes of one name in different outer classes do not collide.
 */
record GeneratedNames(ClassName annotated, String packageName, String base) {

    static GeneratedNames of(TypeElement type) {
        ClassName annotated = ClassName.get(type);
        String base = String.join("_", annotated.simpleNames());
        return new GeneratedNames(annotated, annotated.packageName(), base);
    }

    ClassName exporter() {
        return ClassName.get(packageName, base + "Exporter");
    }

    ClassName config() {
        return ClassName.get(packageName, base + "Config");
    }

    ClassName dummyInputs() {
        return ClassName.get(packageName, base + "DummyInputs");
    }

    /** True when the element is a class nested in another class (an inner or static member class). */
    static boolean isNested(Element type) {
        ElementKind k = type.getEnclosingElement().getKind();
        return k.isClass() || k.isInterface();
    }
}
