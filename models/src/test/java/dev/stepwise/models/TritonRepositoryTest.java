package dev.stepwise.models;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import com.google.protobuf.TextFormat;
import dev.stepwise.models.triton.TritonModelConfigProto.DataType;
import dev.stepwise.models.triton.TritonModelConfigProto.ModelConfig;
import dev.stepwise.models.triton.TritonModelConfigProto.ModelInput;
import dev.stepwise.models.triton.TritonModelConfigProto.ModelOutput;
import dev.stepwise.runtime.Stepwise;
import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.export.ExportOptions;
import dev.stepwise.runtime.export.ExportResult;
import dev.stepwise.runtime.export.Exporter;
import dev.stepwise.runtime.export.GenerationGraph;
import dev.stepwise.runtime.export.TritonRepository;
import dev.stepwise.runtime.generate.ExportedModel;
import dev.stepwise.runtime.generate.GenerationConfig;
import dev.stepwise.runtime.generate.Generator;
import dev.stepwise.runtime.io.OutputFolder;
import dev.stepwise.runtime.loop.LoopEngine;
import dev.stepwise.runtime.onnx.OnnxModelReader;
import dev.stepwise.runtime.onnx.proto.Onnx.GraphProto;
import dev.stepwise.runtime.onnx.proto.Onnx.ModelProto;
import dev.stepwise.runtime.onnx.proto.Onnx.NodeProto;
import dev.stepwise.runtime.onnx.proto.Onnx.OperatorSetIdProto;
import dev.stepwise.runtime.onnx.proto.Onnx.TensorProto;
import dev.stepwise.runtime.onnx.proto.Onnx.TensorShapeProto;
import dev.stepwise.runtime.onnx.proto.Onnx.TypeProto;
import dev.stepwise.runtime.onnx.proto.Onnx.ValueInfoProto;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code export --triton-repository}: every written {@code config.pbtxt} parses (protobuf text format) into the
 * project's copy of Triton's {@code ModelConfig} fields and states exactly the inputs and outputs of the ONNX file
 * beside it; each version folder loads in ONNX Runtime on its own; the loop model served from the repository
 * generates the plain export's tokens; weights are one file on disk; bad targets fail before any work.
 */
class TritonRepositoryTest {
    static final long PAD = 98;
    static final List<long[]> PROMPTS = List.of(
            new long[] {0, 0, 0, 52, 7, 300, 11, 999, 98, 5},
            new long[] {4, 8, 15},
            new long[] {16, 23, 42, 108, 7});

    @TempDir
    static Path tmp;
    /** Weights inside each .onnx file (the tiny model is below the external-data threshold). */
    static ExportResult inline;
    /** Weights in model.onnx_data (threshold 0). */
    static ExportResult external;

    @BeforeAll
    static void export() {
        ExportOptions all = ExportOptions.defaults().withGeneration(EnumSet.allOf(GenerationGraph.class));
        inline = Exporter.export(Fixtures.path("gpt2-tiny-random"), tmp.resolve("inline"),
                all.withTritonRepository(tmp.resolve("inline-triton")));
        external = Exporter.export(Fixtures.path("gpt2-tiny-random"), tmp.resolve("external"),
                all.withValidate(false).withExternalDataThreshold(0).withTritonRepository(tmp.resolve("external-triton")));
    }

    static final Map<String, String> EXPECTED_MODELS = Map.of("decoder", "model.onnx", "loop", "model_loop.onnx",
            "beam_search", "model_beam_search.onnx", "greedy_search", "model_greedy_search.onnx",
            "sampling", "model_sampling.onnx");

    /** The file ONNX Runtime (and Triton's backend) loads in a version folder. */
    static Path versionModel(Path repository, String name) {
        Path p = repository.resolve(name).resolve("1").resolve("model.onnx");
        return Files.isDirectory(p) ? p.resolve("model.onnx") : p;
    }

    static ModelConfig parse(Path configFile) throws IOException {
        ModelConfig.Builder b = ModelConfig.newBuilder();
        TextFormat.merge(Files.readString(configFile), b); // strict: an unknown field or enum value throws
        return b.build();
    }

    /** Triton's data type for an ONNX element type, written out here independently of the code under test. */
    static DataType tritonType(int elemType) {
        return switch (elemType) {
            case TensorProto.DataType.FLOAT_VALUE -> DataType.TYPE_FP32;
            case TensorProto.DataType.FLOAT16_VALUE -> DataType.TYPE_FP16;
            case TensorProto.DataType.DOUBLE_VALUE -> DataType.TYPE_FP64;
            case TensorProto.DataType.INT64_VALUE -> DataType.TYPE_INT64;
            case TensorProto.DataType.INT32_VALUE -> DataType.TYPE_INT32;
            case TensorProto.DataType.BOOL_VALUE -> DataType.TYPE_BOOL;
            default -> throw new AssertionError("element type " + elemType + " not expected in these graphs");
        };
    }

    static List<Long> onnxDims(ValueInfoProto v) {
        List<Long> dims = new ArrayList<>();
        for (TensorShapeProto.Dimension d : v.getType().getTensorType().getShape().getDimList()) {
            dims.add(d.hasDimValue() ? d.getDimValue() : -1L);
        }
        return dims;
    }

    static void assertTensor(String where, ValueInfoProto onnx, String name, DataType type, List<Long> dims,
                             boolean hasReshape, List<Long> reshape) {
        assertEquals(onnx.getName(), name, where);
        assertEquals(tritonType(onnx.getType().getTensorType().getElemType()), type, where + " data_type");
        List<Long> expected = onnxDims(onnx);
        if (expected.isEmpty()) {
            assertEquals(List.of(1L), dims, where + ": a scalar is dims [1]");
            assertTrue(hasReshape, where + ": a scalar is reshaped to []");
            assertEquals(List.of(), reshape, where);
        } else {
            assertEquals(expected, dims, where + " dims");
            assertFalse(hasReshape, where + ": no reshape");
        }
    }

    static void assertConfigMatchesGraph(Path repository) throws IOException {
        for (Map.Entry<String, String> m : EXPECTED_MODELS.entrySet()) {
            String name = m.getKey();
            ModelConfig config = parse(repository.resolve(name).resolve("config.pbtxt"));
            assertEquals(name, config.getName(), "the name Triton requires to match the folder");
            assertEquals("onnxruntime_onnx", config.getPlatform());
            assertEquals("onnxruntime", config.getBackend());
            assertEquals(0, config.getMaxBatchSize());
            OnnxModelReader graph = OnnxModelReader.load(versionModel(repository, name));
            assertEquals(graph.inputs().size(), config.getInputCount(), name + " inputs");
            assertEquals(graph.outputs().size(), config.getOutputCount(), name + " outputs");
            for (int i = 0; i < config.getInputCount(); i++) {
                ModelInput in = config.getInput(i);
                assertTensor(name + " input " + i, graph.inputs().get(i), in.getName(), in.getDataType(),
                        in.getDimsList(), in.hasReshape(), in.getReshape().getShapeList());
            }
            for (int i = 0; i < config.getOutputCount(); i++) {
                ModelOutput out = config.getOutput(i);
                assertTensor(name + " output " + i, graph.outputs().get(i), out.getName(), out.getDataType(),
                        out.getDimsList(), out.hasReshape(), out.getReshape().getShapeList());
            }
        }
    }

    @Test
    void repositoryHasOneModelPerGraph() throws IOException {
        for (ExportResult r : List.of(inline, external)) {
            Path repository = r.triton().repository();
            assertEquals(EXPECTED_MODELS, r.triton().models());
            try (Stream<Path> models = Files.list(repository)) {
                assertEquals(EXPECTED_MODELS.keySet(), Set.copyOf(models.map(p -> p.getFileName().toString()).toList()),
                        "only the models, no hidden leftovers");
            }
        }
        assertTrue(Files.isRegularFile(inline.triton().repository().resolve("loop/1/model.onnx")),
                "weights inside the file: a single-file model");
        assertTrue(Files.isRegularFile(external.triton().repository().resolve("loop/1/model.onnx/model.onnx_data")),
                "external data: Triton's folder form, data beside the graph");
    }

    @Test
    void everyConfigParsesAndStatesTheGraphsInputsAndOutputs() throws IOException {
        assertConfigMatchesGraph(inline.triton().repository());
        assertConfigMatchesGraph(external.triton().repository());
        // spot checks that the comparison above is not vacuous: the loop's scalars and the decoder's cache
        ModelConfig loop = parse(inline.triton().repository().resolve("loop/config.pbtxt"));
        ModelInput topP = loop.getInputList().stream().filter(i -> i.getName().equals("top_p")).findFirst().orElseThrow();
        assertEquals(DataType.TYPE_FP64, topP.getDataType());
        assertEquals(List.of(1L), topP.getDimsList());
        ModelConfig decoder = parse(inline.triton().repository().resolve("decoder/config.pbtxt"));
        ModelInput past = decoder.getInputList().stream().filter(i -> i.getName().equals("past_key_values.0.key"))
                .findFirst().orElseThrow();
        assertEquals(List.of(-1L, 4L, -1L, 8L), past.getDimsList());
        assertEquals(DataType.TYPE_FP32, past.getDataType());
    }

    @Test
    void textFormatParseIsStrict() {
        ModelConfig.Builder b = ModelConfig.newBuilder();
        assertThrows(TextFormat.ParseException.class, () -> TextFormat.merge("max_batch_size: 0\nbogus_field: 1\n", b));
        assertThrows(TextFormat.ParseException.class, () -> TextFormat.merge("input [ { data_type: TYPE_FLOAT32 } ]", b));
    }

    @Test
    void eachVersionFolderLoadsInOnnxRuntimeOnItsOwn() throws IOException, OrtException {
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        for (ExportResult r : List.of(inline, external)) {
            for (String name : EXPECTED_MODELS.keySet()) {
                // Triton may copy a version folder elsewhere (cloud repositories are localized): load a lone copy
                Path alone = Files.createTempDirectory(tmp, name);
                copyTree(r.triton().repository().resolve(name).resolve("1"), alone.resolve("1"));
                Path file = alone.resolve("1/model.onnx");
                file = Files.isDirectory(file) ? file.resolve("model.onnx") : file;
                ModelConfig config = parse(r.triton().repository().resolve(name).resolve("config.pbtxt"));
                try (OrtSession.SessionOptions options = new OrtSession.SessionOptions();
                     OrtSession session = env.createSession(file.toString(), options)) {
                    assertEquals(config.getInputList().stream().map(ModelInput::getName).toList(),
                            List.copyOf(session.getInputNames()), name);
                    assertEquals(config.getOutputList().stream().map(ModelOutput::getName).toList(),
                            List.copyOf(session.getOutputNames()), name);
                }
            }
        }
    }

    @Test
    void loopModelInTheRepositoryGeneratesThePlainExportsTokens() {
        List<long[]> expected;
        try (ExportedModel model = ExportedModel.open(inline.outputDir(), 1)) {
            expected = new Generator(model).greedy(PROMPTS, 12);
        }
        for (ExportResult r : List.of(inline, external)) {
            try (LoopEngine engine = LoopEngine.open(versionModel(r.triton().repository(), "loop"), 1)) {
                List<long[]> got = engine.generate(PROMPTS, GenerationConfig.greedy(12), PAD, List.of(98L));
                assertEquals(expected.size(), got.size());
                for (int row = 0; row < expected.size(); row++) {
                    assertArrayEquals(expected.get(row), got.get(row), "row " + row);
                }
            }
        }
    }

    @Test
    void externalWeightsAreOneFileOnDisk() throws IOException {
        Object exportData = fileKey(external.outputDir().resolve(Exporter.DATA_FILE));
        for (String name : EXPECTED_MODELS.keySet()) {
            Path data = external.triton().repository().resolve(name).resolve("1/model.onnx/model.onnx_data");
            assertEquals(exportData, fileKey(data), name + ": a hard link to the export's weights");
        }
        assertEquals(0, external.triton().copiedBytes(), "same file system: nothing copied");
        assertTrue(external.triton().linkedBytes() > 5 * Files.size(external.outputDir().resolve(Exporter.DATA_FILE)),
                "five models link the weights (and their graphs)");
    }

    /**
     * Across file systems a hard link to the export is impossible: each export file is copied (streamed) once into the
     * repository and the other models link to that copy. Runs where a second file system is at hand (/dev/shm).
     */
    @Test
    void acrossFileSystemsTheWeightsAreCopiedOnceAndLinkedBetweenModels() throws IOException {
        Path shm = Path.of("/dev/shm");
        org.junit.jupiter.api.Assumptions.assumeTrue(Files.isDirectory(shm) && Files.isWritable(shm)
                && !Files.getFileStore(shm).equals(Files.getFileStore(tmp)), "no second file system");
        Path scratch = Files.createTempDirectory(shm, "stepwise-triton-test");
        try {
            TritonRepository.Layout layout = Stepwise.tritonRepository(external.outputDir(), scratch.resolve("repo"));
            long data = Files.size(external.outputDir().resolve(Exporter.DATA_FILE));
            long graphs = 0;
            for (String file : EXPECTED_MODELS.values()) {
                graphs += Files.size(external.outputDir().resolve(file));
            }
            assertEquals(data + graphs, layout.copiedBytes(), "each export file copied once");
            assertEquals(4 * data, layout.linkedBytes(), "the other four models link to the first copy");
            Object first = null;
            for (String name : EXPECTED_MODELS.keySet()) {
                Object key = fileKey(layout.repository().resolve(name).resolve("1/model.onnx/model.onnx_data"));
                first = first == null ? key : first;
                assertEquals(first, key, name);
            }
            assertConfigMatchesGraph(layout.repository());
        } finally {
            OutputFolder.deleteRecursively(scratch);
        }
    }

    static Object fileKey(Path p) throws IOException {
        Object key = Files.readAttributes(p, BasicFileAttributes.class).fileKey();
        assertTrue(key != null, "this file system reports file identities");
        return key;
    }

    // ---- bad targets: one line, nothing written ----

    static StepwiseException exportFails(Path output, Path repository) {
        ExportOptions options = ExportOptions.defaults().withValidate(false).withTritonRepository(repository);
        return assertThrows(StepwiseException.class,
                () -> Exporter.export(Fixtures.path("gpt2-tiny-random"), output, options));
    }

    static void assertOneLine(StepwiseException e, String expected) {
        assertTrue(e.getMessage().contains(expected), e.getMessage());
        assertFalse(e.getMessage().contains("\n"), e.getMessage());
    }

    @Test
    void repositoryInsideTheOutputIsRefusedBeforeAnyWork() {
        Path output = tmp.resolve("bad-inside");
        assertOneLine(exportFails(output, output.resolve("triton")), "is inside the export folder");
        assertOneLine(exportFails(output, output), "is inside the export folder");
        assertFalse(Files.exists(output), "no export either");
    }

    @Test
    void outputInsideTheRepositoryIsRefused() {
        Path repository = tmp.resolve("bad-contains");
        assertOneLine(exportFails(repository.resolve("out"), repository), "contains the export folder");
        assertFalse(Files.exists(repository));
    }

    @Test
    void existingNonEmptyRepositoryIsRefusedAndLeftAlone() throws IOException {
        Path repository = Files.createDirectories(tmp.resolve("bad-existing/other_model"));
        Files.writeString(repository.resolve("config.pbtxt"), "name: \"other_model\"\n");
        Path output = tmp.resolve("bad-existing-out");
        assertOneLine(exportFails(output, repository.getParent()), "exists and is not empty");
        assertEquals("name: \"other_model\"\n", Files.readString(repository.resolve("config.pbtxt")));
        assertFalse(Files.exists(output));
    }

    @Test
    void existingFileIsRefused() throws IOException {
        Path file = Files.writeString(tmp.resolve("bad-file"), "x");
        assertOneLine(exportFails(tmp.resolve("bad-file-out"), file), "exists and is not a folder");
    }

    @Test
    void emptyExistingFolderIsFilled() throws IOException {
        Path repository = Files.createDirectories(tmp.resolve("empty-repo"));
        TritonRepository.Layout layout = Stepwise.tritonRepository(inline.outputDir(), repository);
        assertEquals(EXPECTED_MODELS.keySet(), layout.models().keySet());
        assertConfigMatchesGraph(repository);
    }

    /** A graph Triton has no data type for: the layout fails naming the tensor and leaves nothing behind. */
    @Test
    void failedLayoutLeavesNoRepository() throws IOException {
        Path folder = Files.createDirectories(tmp.resolve("complex"));
        TypeProto complex = TypeProto.newBuilder().setTensorType(TypeProto.Tensor.newBuilder()
                .setElemType(TensorProto.DataType.COMPLEX64_VALUE)
                .setShape(TensorShapeProto.newBuilder().addDim(TensorShapeProto.Dimension.newBuilder().setDimValue(2)))).build();
        ModelProto model = ModelProto.newBuilder().setIrVersion(8)
                .addOpsetImport(OperatorSetIdProto.newBuilder().setVersion(17))
                .setGraph(GraphProto.newBuilder().setName("g")
                        .addNode(NodeProto.newBuilder().setOpType("Identity").addInput("z").addOutput("y"))
                        .addInput(ValueInfoProto.newBuilder().setName("z").setType(complex))
                        .addOutput(ValueInfoProto.newBuilder().setName("y").setType(complex))).build();
        Files.write(folder.resolve("model.onnx"), model.toByteArray());
        Path repository = tmp.resolve("complex-triton");
        StepwiseException e = assertThrows(StepwiseException.class, () -> Stepwise.tritonRepository(folder, repository));
        assertOneLine(e, "input 'z' has ONNX element type 14");
        assertFalse(Files.exists(repository));
        try (Stream<Path> siblings = Files.list(tmp)) {
            assertTrue(siblings.noneMatch(p -> p.getFileName().toString().startsWith(".complex-triton.")),
                    "no hidden working folder left");
        }
    }

    @Test
    void folderWithoutADecoderIsRefused() throws IOException {
        Path folder = Files.createDirectories(tmp.resolve("no-decoder"));
        StepwiseException e = assertThrows(StepwiseException.class,
                () -> Stepwise.tritonRepository(folder, tmp.resolve("no-decoder-triton")));
        assertOneLine(e, "no model.onnx");
    }

    static void copyTree(Path from, Path to) throws IOException {
        try (Stream<Path> walk = Files.walk(from)) {
            for (Path p : walk.toList()) {
                Path target = to.resolve(from.relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(target);
                } else {
                    OutputFolder.copyInto(p, target);
                }
            }
        }
    }
}
