package dev.stepwise.processor;

import com.squareup.javapoet.ClassName;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.Reader;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import javax.annotation.processing.Filer;
import javax.annotation.processing.Messager;
import javax.lang.model.element.Element;
import javax.tools.Diagnostic;
import javax.tools.FileObject;
import javax.tools.StandardLocation;

/**
 * {@code META-INF/services/<service interface>} (e.g. {@code dev.stepwise.runtime.model.Architecture}): every
 * generated exporter of one kind, so the runtime's {@code ServiceLoader} finds them. A resource can be created only
 * once per compilation, so entries are collected across rounds and written at the end, merged with the file an
 * earlier (incremental) compilation left, so recompiling one class does not drop the others.
 */
final class ServiceFile {
    static final String PATH = path(RuntimeTypes.ARCHITECTURE);

    private final String path;
    private final Set<String> providers = new TreeSet<>();
    private final List<Element> origins = new ArrayList<>();

    /** The service file of {@code serviceInterface} (e.g. the encoder architectures'). */
    ServiceFile(ClassName serviceInterface) {
        this.path = path(serviceInterface);
    }

    private static String path(ClassName serviceInterface) {
        return "META-INF/services/" + serviceInterface.reflectionName();
    }

    void add(String provider, Element origin) {
        providers.add(provider);
        origins.add(origin);
    }

    /** Writes the merged file; does nothing when this compilation generated no exporter. */
    void write(Filer filer, Messager messager) {
        if (providers.isEmpty()) {
            return;
        }
        Set<String> all = new TreeSet<>(providers);
        all.addAll(existing(filer, path));
        try {
            FileObject file = filer.createResource(StandardLocation.CLASS_OUTPUT, "", path,
                    origins.toArray(new Element[0]));
            try (Writer w = new OutputStreamWriter(file.openOutputStream(), StandardCharsets.UTF_8)) {
                for (String p : all) {
                    w.write(p);
                    w.write('\n');
                }
            }
        } catch (IOException e) {
            messager.printMessage(Diagnostic.Kind.ERROR, "cannot write " + path + ": " + e.getMessage());
        }
    }

    /** The entries of a service file already in the output, if any ('#' starts a comment, as ServiceLoader reads). */
    private static Set<String> existing(Filer filer, String path) {
        Set<String> entries = new TreeSet<>();
        try {
            FileObject file = filer.getResource(StandardLocation.CLASS_OUTPUT, "", path);
            try (Reader r = new InputStreamReader(file.openInputStream(), StandardCharsets.UTF_8);
                 BufferedReader lines = new BufferedReader(r)) {
                for (String line = lines.readLine(); line != null; line = lines.readLine()) {
                    int hash = line.indexOf('#');
                    String entry = (hash < 0 ? line : line.substring(0, hash)).trim();
                    if (!entry.isEmpty()) {
                        entries.add(entry);
                    }
                }
            }
        } catch (IOException | IllegalArgumentException e) {
            // no earlier file (the usual case): nothing to merge
        }
        return entries;
    }
}
