package dev.stepwise.processor;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import javax.tools.DiagnosticCollector;
import javax.tools.JavaCompiler;
import javax.tools.JavaFileObject;
import javax.tools.StandardJavaFileManager;
import javax.tools.StandardLocation;
import javax.tools.ToolProvider;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * An incremental build recompiles only some classes into an output folder that already holds the service file;
 * the entries of classes not recompiled must survive. compile-testing always starts from an empty output, so this
 * test drives javac directly.
 */
class ServiceFileTest {

    @Test
    void mergesWithTheServiceFileAnEarlierCompilationLeft(@TempDir Path out) throws IOException {
        Path services = out.resolve(ServiceFile.PATH);
        Files.createDirectories(services.getParent());
        Files.writeString(services, "# written by an earlier build\nearlier.LlamaExporter\ntest.Gpt2Exporter\n", UTF_8);

        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        DiagnosticCollector<JavaFileObject> diagnostics = new DiagnosticCollector<>();
        try (StandardJavaFileManager files = javac.getStandardFileManager(diagnostics, null, UTF_8)) {
            files.setLocation(StandardLocation.CLASS_OUTPUT, List.of(out.toFile()));
            JavaCompiler.CompilationTask task = javac.getTask(null, files, diagnostics, List.of("-proc:only"), null,
                    List.of(Gpt2Source.valid()));
            task.setProcessors(List.of(new OnnxConfigProcessor()));
            assertTrue(task.call(), diagnostics.getDiagnostics().toString());
        }

        assertEquals("earlier.LlamaExporter\ntest.Gpt2Exporter\n", Files.readString(services, UTF_8));
    }
}
