package dev.stepwise.processor;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import javax.annotation.processing.AbstractProcessor;
import javax.annotation.processing.Filer;
import javax.annotation.processing.ProcessingEnvironment;
import javax.annotation.processing.RoundEnvironment;
import javax.lang.model.SourceVersion;
import javax.lang.model.element.TypeElement;

/**
 * Runs the real processor and records every file it creates, so a test can prove that nothing was generated even
 * when the compilation failed (compile-testing hides generated files of failed compilations).
 */
final class RecordingProcessor extends AbstractProcessor {
    private final OnnxConfigProcessor delegate = new OnnxConfigProcessor();
    private final List<String> created = new ArrayList<>();

    List<String> created() {
        return created;
    }

    @Override
    public synchronized void init(ProcessingEnvironment env) {
        super.init(env);
        Filer filer = recording(Filer.class, env.getFiler());
        delegate.init(proxy(ProcessingEnvironment.class, env, (m, args) ->
                m.getName().equals("getFiler") ? filer : m.invoke(env, args)));
    }

    private <T> T recording(Class<T> type, T target) {
        return proxy(type, target, (m, args) -> {
            if (m.getName().startsWith("create")) {
                // createSourceFile(name, ...) / createResource(location, package, relativeName, ...)
                created.add(String.valueOf(m.getName().equals("createResource") ? args[2] : args[0]));
            }
            return m.invoke(target, args);
        });
    }

    @Override
    public Set<String> getSupportedAnnotationTypes() {
        return delegate.getSupportedAnnotationTypes();
    }

    @Override
    public SourceVersion getSupportedSourceVersion() {
        return delegate.getSupportedSourceVersion();
    }

    @Override
    public boolean process(Set<? extends TypeElement> annotations, RoundEnvironment round) {
        return delegate.process(annotations, round);
    }

    private interface Call {
        Object on(Method m, Object[] args) throws Exception;
    }

    private static <T> T proxy(Class<T> type, T target, Call call) {
        return type.cast(Proxy.newProxyInstance(type.getClassLoader(), new Class<?>[] {type}, (p, m, args) -> {
            try {
                return call.on(m, args);
            } catch (InvocationTargetException e) {
                throw e.getCause();
            }
        }));
    }
}
