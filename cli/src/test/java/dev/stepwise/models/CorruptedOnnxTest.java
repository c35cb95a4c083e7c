package dev.stepwise.models;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.stepwise.cli.Main;
import dev.stepwise.runtime.checkpoint.RandomCheckpoint;
import dev.stepwise.runtime.export.ExportOptions;
import dev.stepwise.runtime.export.Exporter;
import dev.stepwise.runtime.onnx.OnnxModelReader;
import dev.stepwise.runtime.onnx.proto.Onnx.ModelProto;
import dev.stepwise.runtime.onnx.proto.Onnx.NodeProto;
import dev.stepwise.runtime.onnx.proto.Onnx.OperatorSetIdProto;
import dev.stepwise.runtime.onnx.proto.Onnx.StringStringEntryProto;
import dev.stepwise.runtime.onnx.proto.Onnx.TensorProto;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Broken ONNX files handed to {@code inspect}, {@code simplify}, {@code quantize} and {@code generate}: each is built
 * from a small valid export (weights in model.onnx_data) by one corruption, and each command must answer with exit
 * status 1 and one error line naming the file and what is wrong, and write nothing. The test prints the table that
 * README's "Bad input" section shows.
 */
class CorruptedOnnxTest {
    @TempDir
    static Path tmp;
    static Path exported;

    @BeforeAll
    static void export() {
        Path checkpoint = tmp.resolve("ckpt");
        RandomCheckpoint.write("gpt2", "tiny", checkpoint, 5);
        exported = tmp.resolve("exported");
        Exporter.export(checkpoint, exported, ExportOptions.defaults().withExternalDataThreshold(0));
    }

    /** One corruption of the exported folder: a new model.onnx (or null to keep it), then any change to the folder. */
    record Corruption(String name, String expected, UnaryOperator<ModelProto> model, FolderChange folder) {
    }

    interface FolderChange {
        void apply(Path dir) throws IOException;
    }

    static final FolderChange NONE = dir -> { };

    static List<Corruption> corruptions() {
        return List.of(
                new Corruption("truncated file", "is not a readable ONNX model", null, dir -> {
                    Path f = dir.resolve("model.onnx");
                    byte[] all = Files.readAllBytes(f);
                    Files.write(f, Arrays.copyOf(all, all.length / 2));
                }),
                new Corruption("external data offset past the end", "which has only", m -> external(m, "offset",
                        size -> Long.toString(size + 1000)), NONE),
                new Corruption("external data length past the end", "which has only", m -> external(m, "length",
                        size -> Long.toString(size * 2)), NONE),
                new Corruption("missing external file", "does not exist beside the model", null,
                        dir -> Files.delete(dir.resolve("model.onnx_data"))),
                new Corruption("graph with a cycle", "cycle", CorruptedOnnxTest::cycle, NONE),
                new Corruption("unknown op domain", "op domain 'org.example.custom'", m -> {
                    ModelProto.Builder b = m.toBuilder();
                    b.getGraphBuilder().getNodeBuilder(0).setDomain("org.example.custom");
                    return b.addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("org.example.custom").setVersion(1)).build();
                }, NONE),
                new Corruption("opset 99", "ai.onnx opset 99", m -> m.toBuilder().clearOpsetImport()
                        .addOpsetImport(OperatorSetIdProto.newBuilder().setVersion(99)).build(), NONE),
                new Corruption("no opset import", "opset_import does not list", m -> m.toBuilder().clearOpsetImport().build(), NONE),
                new Corruption("raw_data size does not match dims", "bytes of raw_data", CorruptedOnnxTest::shortRawData, NONE),
                new Corruption("model with no graph", "has no graph", m -> m.toBuilder().clearGraph().build(), NONE));
    }

    /** Sets one external_data key of the first external initializer, computed from model.onnx_data's size. */
    static ModelProto external(ModelProto m, String key, java.util.function.LongFunction<String> value) {
        long size;
        try {
            size = Files.size(exported.resolve("model.onnx_data"));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        ModelProto.Builder b = m.toBuilder();
        for (TensorProto.Builder t : b.getGraphBuilder().getInitializerBuilderList()) {
            if (t.getDataLocation() == TensorProto.DataLocation.EXTERNAL) {
                List<StringStringEntryProto> entries = new ArrayList<>();
                for (StringStringEntryProto e : t.getExternalDataList()) {
                    if (!e.getKey().equals(key)) {
                        entries.add(e);
                    }
                }
                entries.add(StringStringEntryProto.newBuilder().setKey(key).setValue(value.apply(size)).build());
                t.clearExternalData().addAllExternalData(entries);
                return b.build();
            }
        }
        throw new AssertionError("the export has no external initializer");
    }

    /** The node writing the graph's first output now also reads it back through the first node that reads an input. */
    static ModelProto cycle(ModelProto m) {
        ModelProto.Builder b = m.toBuilder();
        String output = m.getGraph().getOutput(0).getName();
        String input = m.getGraph().getInput(0).getName();
        for (NodeProto.Builder n : b.getGraphBuilder().getNodeBuilderList()) {
            int i = n.getInputList().indexOf(input);
            if (i >= 0) {
                n.setInput(i, output);
                return b.build();
            }
        }
        throw new AssertionError("no node reads " + input);
    }

    /** The first external initializer inlined as raw_data, 4 bytes short of what its dims need. */
    static ModelProto shortRawData(ModelProto m) {
        OnnxModelReader reader = OnnxModelReader.load(exported.resolve("model.onnx"));
        ModelProto.Builder b = m.toBuilder();
        for (TensorProto.Builder t : b.getGraphBuilder().getInitializerBuilderList()) {
            if (t.getDataLocation() == TensorProto.DataLocation.EXTERNAL) {
                ByteBuffer data = reader.data(t.build());
                byte[] bytes = new byte[data.remaining() - 4];
                data.get(bytes);
                t.clearExternalData().setDataLocation(TensorProto.DataLocation.DEFAULT).setRawData(ByteString.copyFrom(bytes));
                return b.build();
            }
        }
        throw new AssertionError("the export has no external initializer");
    }

    record Outcome(int status, String errorLine, String stderr) {
    }

    static Outcome run(String... args) {
        PrintStream savedErr = System.err;
        PrintStream savedOut = System.out;
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        System.setOut(new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8));
        try {
            int status = Main.run(args);
            String all = err.toString(StandardCharsets.UTF_8);
            String line = all.lines().filter(l -> l.startsWith("error: ")).findFirst().orElse("");
            return new Outcome(status, line, all);
        } finally {
            System.setErr(savedErr);
            System.setOut(savedOut);
        }
    }

    static Path copyOfExport(Path dir) throws IOException {
        Files.createDirectories(dir);
        try (Stream<Path> files = Files.list(exported)) {
            for (Path f : (Iterable<Path>) files::iterator) {
                if (Files.isRegularFile(f)) {
                    Files.copy(f, dir.resolve(f.getFileName()));
                }
            }
        }
        return dir;
    }

    @Test
    void everyCommandRefusesEveryCorruptionInOneLineAndWritesNothing() throws IOException {
        Map<String, Map<String, String>> table = new LinkedHashMap<>();
        List<String> problems = new ArrayList<>();
        int n = 0;
        for (Corruption c : corruptions()) {
            Path work = tmp.resolve("case" + n++);
            Path dir = copyOfExport(work.resolve("model"));
            Path file = dir.resolve("model.onnx");
            if (c.model() != null) {
                Files.write(file, c.model().apply(ModelProto.parseFrom(Files.readAllBytes(file))).toByteArray());
            }
            c.folder().apply(dir);
            Map<String, String[]> commands = new LinkedHashMap<>();
            commands.put("inspect", new String[] {"inspect", file.toString()});
            commands.put("simplify", new String[] {"simplify", "--model", file.toString(), "--output",
                work.resolve("out").toString(), "--batch-size", "1", "--sequence-length", "4", "--max-new-tokens", "2"});
            commands.put("quantize", new String[] {"quantize", "--model", file.toString(), "--output",
                work.resolve("out").toString()});
            commands.put("generate", new String[] {"generate", "--model", dir.toString(), "--input-ids", "1,2,3",
                "--max-new-tokens", "2", "--print-ids"});
            Map<String, String> row = new LinkedHashMap<>();
            for (Map.Entry<String, String[]> cmd : commands.entrySet()) {
                Outcome o = run(cmd.getValue());
                String where = c.name() + " × " + cmd.getKey() + ": ";
                row.put(cmd.getKey(), o.errorLine().replace(tmp.toString(), "…"));
                if (o.status() != 1) {
                    problems.add(where + "exit " + o.status() + " " + o.stderr().strip());
                }
                if (!o.errorLine().contains(file.toString())) {
                    problems.add(where + "the error does not name " + file + ": " + o.errorLine());
                }
                if (!o.errorLine().contains(c.expected())) {
                    problems.add(where + "the error does not say '" + c.expected() + "': " + o.errorLine());
                }
                if (o.stderr().strip().lines().count() != 1) {
                    problems.add(where + "more than one line on stderr: " + o.stderr().strip());
                }
                try (Stream<Path> left = Files.list(work)) {
                    List<String> names = left.map(p -> p.getFileName().toString()).filter(s -> !s.equals("model")).toList();
                    if (!names.isEmpty()) {
                        problems.add(where + "left " + names + " behind");
                    }
                }
            }
            table.put(c.name(), row);
        }
        System.out.println(format(table));
        assertTrue(problems.isEmpty(), String.join("\n", problems));
        assertEquals(0, run("inspect", exported.resolve("model.onnx").toString()).status(), "the valid export still loads");
    }

    /** A markdown table: one row per corruption, one column per command, each cell the error line. */
    static String format(Map<String, Map<String, String>> table) {
        StringBuilder sb = new StringBuilder("| input | command | message |\n|---|---|---|\n");
        table.forEach((input, row) -> row.forEach((cmd, line) ->
                sb.append("| ").append(input).append(" | ").append(cmd).append(" | `").append(line).append("` |\n")));
        return sb.toString();
    }

    @Test
    void aValidExportPassesTheChecks() {
        assertFalse(OnnxModelReader.load(exported.resolve("model.onnx")).initializers().isEmpty());
    }
}
