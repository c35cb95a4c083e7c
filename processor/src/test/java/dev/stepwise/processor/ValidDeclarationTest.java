package dev.stepwise.processor;

import static com.google.testing.compile.CompilationSubject.assertThat;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.testing.compile.Compilation;
import com.google.testing.compile.Compiler;
import com.google.testing.compile.JavaFileObjects;
import java.io.IOException;
import javax.tools.JavaFileObject;
import javax.tools.StandardLocation;
import org.junit.jupiter.api.Test;

/** What a valid declaration gets: no diagnostics, and the three classes plus the service entry. */
class ValidDeclarationTest {

    static Compilation compile(JavaFileObject... sources) {
        return Compiler.javac()
                .withProcessors(new OnnxConfigProcessor())
                // the project's own lint flags, as errors: generated code must be clean under them
                .withOptions("-Xlint:all,-processing,-serial", "-Werror")
                .compile(sources);
    }

    static String generated(Compilation c, String qualifiedName) throws IOException {
        return c.generatedSourceFile(qualifiedName).orElseThrow().getCharContent(true).toString();
    }

    @Test
    void gpt2CompilesWithoutWarningsAndGetsItsGeneratedClasses() throws IOException {
        Compilation c = compile(Gpt2Source.valid());

        assertThat(c).succeededWithoutWarnings();
        assertThat(c).generatedSourceFile("test.Gpt2Exporter");
        assertThat(c).generatedSourceFile("test.Gpt2Config");
        assertThat(c).generatedSourceFile("test.Gpt2DummyInputs");
        assertThat(c).generatedFile(StandardLocation.CLASS_OUTPUT, ServiceFile.PATH)
                .contentsAsUtf8String().isEqualTo("test.Gpt2Exporter\n");
        System.out.println(generated(c, "test.Gpt2Exporter"));
        System.out.println(generated(c, "test.Gpt2Config"));
        System.out.println(generated(c, "test.Gpt2DummyInputs"));
    }
}
