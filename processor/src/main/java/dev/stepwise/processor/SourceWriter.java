package dev.stepwise.processor;

import com.squareup.javapoet.AnnotationSpec;
import com.squareup.javapoet.ClassName;
import com.squareup.javapoet.JavaFile;
import com.squareup.javapoet.TypeSpec;
import java.io.IOException;
import javax.annotation.processing.Filer;
import javax.annotation.processing.Messager;
import javax.lang.model.element.TypeElement;
import javax.lang.model.util.Elements;
import javax.tools.Diagnostic;

/** Writes generated classes through the {@link Filer}, marked {@code @Generated} when the platform has it. */
final class SourceWriter {
    private static final String GENERATED = "javax.annotation.processing.Generated";

    private final Filer filer;
    private final Messager messager;
    private final boolean hasGenerated;

    SourceWriter(Filer filer, Messager messager, Elements elements) {
        this.filer = filer;
        this.messager = messager;
        this.hasGenerated = elements.getTypeElement(GENERATED) != null;
    }

    /** Adds the {@code @Generated} marker to a class under construction. */
    TypeSpec.Builder mark(TypeSpec.Builder type) {
        if (hasGenerated) {
            type.addAnnotation(AnnotationSpec.builder(ClassName.bestGuess(GENERATED))
                    .addMember("value", "$S", OnnxConfigProcessor.class.getName())
                    .build());
        }
        return type;
    }

    /** Writes {@code type} into {@code packageName}; false (with an error on {@code origin}) when it cannot. */
    boolean write(String packageName, TypeSpec type, TypeElement origin) {
        try {
            JavaFile.builder(packageName, type).skipJavaLangImports(true).indent("    ").build().writeTo(filer);
            return true;
        } catch (IOException e) {
            messager.printMessage(Diagnostic.Kind.ERROR, "cannot write generated class " + packageName + "."
                    + type.name + " for " + origin.getSimpleName() + ": " + e.getMessage()
                    + "; expected no other class of that name in the package", origin);
            return false;
        }
    }
}
