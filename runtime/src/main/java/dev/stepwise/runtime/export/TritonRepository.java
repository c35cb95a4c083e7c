package dev.stepwise.runtime.export;

import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.io.OutputFolder;
import dev.stepwise.runtime.onnx.OnnxModelReader;
import dev.stepwise.runtime.onnx.proto.Onnx.AttributeProto;
import dev.stepwise.runtime.onnx.proto.Onnx.GraphProto;
import dev.stepwise.runtime.onnx.proto.Onnx.NodeProto;
import dev.stepwise.runtime.onnx.proto.Onnx.StringStringEntryProto;
import dev.stepwise.runtime.onnx.proto.Onnx.TensorProto;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * Lays out an export folder as a Triton Inference Server model repository for its ONNX Runtime backend: the decoder
 * ({@code model.onnx}) becomes the model {@code decoder}, each whole-generation graph the model named after it
 * ({@code loop}, {@code beam_search}, {@code greedy_search}, {@code sampling}), each as {@code <name>/config.pbtxt}
 * ({@link TritonModelConfig}) and version {@code 1}.
 *
 * <p>A model whose weights are in the .onnx file is {@code <name>/1/model.onnx}. A model with external data is a
 * folder {@code <name>/1/model.onnx/} holding {@code model.onnx} and its data file, the layout Triton documents for a
 * model of several files; the backend loads it by path, so the data file's relative {@code location} resolves inside
 * that folder. Triton loads each model's version folder on its own and ONNX Runtime refuses locations that leave the
 * model's folder, so models cannot point at one shared data file; instead every file is a hard link to the export's
 * own file, so the decoder, its generation graphs and the export share one copy of the weights on disk. Where the
 * file system refuses a link (another device, no link support) the first placement is a streamed copy and the other
 * models link to that copy; failing that too, each gets a copy. Nothing is parsed or rewritten but the graphs' inputs
 * and outputs.
 */
public final class TritonRepository {
    /** The model configuration file in each model's folder. */
    public static final String CONFIG_FILE = "config.pbtxt";
    /** The one version folder each model has. */
    public static final String VERSION = "1";
    /** The file (or, with external data, the folder) Triton's ONNX Runtime backend loads in a version folder. */
    public static final String MODEL_FILE = "model.onnx";
    /** The Triton model name of the decoder. */
    public static final String DECODER = "decoder";

    /**
     * What was written ({@link dev.stepwise.runtime.Stepwise#tritonRepository}).
     *
     * @param repository  the repository folder, in place
     * @param models      each Triton model's name ({@code decoder}, {@code loop}, ...) and the export file it was made
     *                    from, in repository order
     * @param linkedBytes bytes of model and weights files placed as hard links to the export's files (no disk used)
     * @param copiedBytes bytes that had to be copied (the file system refused a link)
     */
    public record Layout(Path repository, Map<String, String> models, long linkedBytes, long copiedBytes) {
    }

    private TritonRepository() {
    }

    /**
     * The Triton models an export folder would give, without writing anything.
     *
     * @param exportDir an export folder
     * @return each Triton model name and the export file it comes from, for the files present in {@code exportDir}
     *         (empty when there are none)
     */
    public static Map<String, String> models(Path exportDir) {
        Map<String, String> models = new LinkedHashMap<>();
        if (Files.isRegularFile(exportDir.resolve(Exporter.MODEL_FILE))) {
            models.put(DECODER, Exporter.MODEL_FILE);
        }
        for (GenerationGraph g : GenerationGraph.values()) {
            if (Files.isRegularFile(exportDir.resolve(g.fileName()))) {
                models.put(g.cliName().replace('-', '_'), g.fileName());
            }
        }
        return models;
    }

    /**
     * Refuses, before any work, a repository that cannot be written beside {@code others} (the export's output
     * folder): the same folder, one inside the other, an existing file, or an existing folder that is not empty (a
     * Triton repository usually holds other models, which Stepwise neither replaces nor merges into).
     *
     * @param repository the repository folder to be written
     * @param others     folders it must be beside (neither inside them nor containing them)
     * @throws StepwiseException naming the repository and the problem
     */
    public static void checkTarget(Path repository, Path... others) {
        Path repo = repository.toAbsolutePath().normalize();
        for (Path other : others) {
            Path o = other.toAbsolutePath().normalize();
            if (repo.equals(o) || repo.startsWith(o)) {
                throw new StepwiseException("Triton repository " + repository + ": is inside the export folder " + other
                        + "; choose a folder beside it");
            }
            if (o.startsWith(repo)) {
                throw new StepwiseException("Triton repository " + repository + ": contains the export folder " + other
                        + "; choose a folder beside it");
            }
        }
        if (Files.exists(repo) && !Files.isDirectory(repo)) {
            throw new StepwiseException("Triton repository " + repository + ": exists and is not a folder");
        }
        if (Files.isDirectory(repo)) {
            try (DirectoryStream<Path> entries = Files.newDirectoryStream(repo)) {
                if (entries.iterator().hasNext()) {
                    throw new StepwiseException("Triton repository " + repository + ": exists and is not empty; Stepwise"
                            + " writes a new repository and does not replace or merge into one (remove it or name a new folder)");
                }
            } catch (IOException e) {
                throw new StepwiseException("Triton repository " + repository + ": cannot list it: " + e.getMessage(), e);
            }
        }
    }

    /**
     * Lays out the export folder {@code exportDir} into a new repository, which appears only when complete; see
     * {@link dev.stepwise.runtime.Stepwise#tritonRepository}, which calls it.
     *
     * @param exportDir  an exported or quantized folder
     * @param repository a new or empty folder beside it
     * @return what was written
     * @throws StepwiseException when {@code repository} is not a new or empty folder beside the export, or a file
     *                           cannot be read, linked or copied
     */
    public static Layout write(Path exportDir, Path repository) {
        checkTarget(repository, exportDir);
        try (Pending pending = prepare(exportDir, repository)) {
            return pending.commit();
        }
    }

    /**
     * A repository filled from {@code exportDir} (an export's temporary folder, before it is moved into place) in a
     * hidden folder; {@link Pending#commit} moves it into place, closing without commit deletes it. The caller has
     * run {@link #checkTarget}.
     */
    static Pending prepare(Path exportDir, Path repository) {
        Map<String, String> models = models(exportDir);
        if (!models.containsKey(DECODER)) {
            throw new StepwiseException(exportDir + ": no " + Exporter.MODEL_FILE + " to lay out as a Triton repository");
        }
        OutputFolder out = OutputFolder.create(repository);
        try {
            Placer placer = new Placer();
            for (Map.Entry<String, String> m : models.entrySet()) {
                writeModel(exportDir, out.path().resolve(m.getKey()), m.getKey(), m.getValue(), placer);
            }
            return new Pending(out, new Layout(out.target(), models, placer.linked, placer.copied));
        } catch (RuntimeException e) {
            out.close();
            throw e;
        }
    }

    private static void writeModel(Path exportDir, Path modelDir, String name, String sourceName, Placer placer) {
        Path source = exportDir.resolve(sourceName);
        // The placed files are the export's bytes (a link or a byte copy), so the graph read here is what Triton loads.
        OnnxModelReader graph = OnnxModelReader.load(source);
        Set<String> dataFiles = externalLocations(graph.model().getGraph(), source);
        Path version = modelDir.resolve(VERSION);
        Path modelFile = dataFiles.isEmpty() ? version.resolve(MODEL_FILE) : version.resolve(MODEL_FILE).resolve(MODEL_FILE);
        try {
            Files.createDirectories(modelFile.getParent());
        } catch (IOException e) {
            throw OutputFolder.writeFailure("create", modelFile.getParent(), e);
        }
        placer.place(source, modelFile);
        for (String location : dataFiles) {
            Path placed = modelFile.resolveSibling(location);
            try {
                Files.createDirectories(placed.getParent());
            } catch (IOException e) {
                throw OutputFolder.writeFailure("create", placed.getParent(), e);
            }
            placer.place(exportDir.resolve(location), placed);
        }
        String config = TritonModelConfig.render(name, sourceName, graph.inputs(), graph.outputs());
        Path configFile = modelDir.resolve(CONFIG_FILE);
        try {
            Files.writeString(configFile, config, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw OutputFolder.writeFailure("write", configFile, e);
        }
    }

    /**
     * The external data files the graph and its subgraphs (Loop bodies, the search operators' decoders) refer to;
     * each must be a relative path that stays inside the model's folder, so that it can be placed beside the model.
     */
    static Set<String> externalLocations(GraphProto graph, Path source) {
        Set<String> out = new TreeSet<>();
        collect(graph, source, out);
        return out;
    }

    private static void collect(GraphProto graph, Path source, Set<String> out) {
        for (TensorProto t : graph.getInitializerList()) {
            tensor(t, source, out);
        }
        for (NodeProto n : graph.getNodeList()) {
            for (AttributeProto a : n.getAttributeList()) {
                if (a.hasT()) {
                    tensor(a.getT(), source, out);
                }
                for (TensorProto t : a.getTensorsList()) {
                    tensor(t, source, out);
                }
                if (a.hasG()) {
                    collect(a.getG(), source, out);
                }
                for (GraphProto g : a.getGraphsList()) {
                    collect(g, source, out);
                }
            }
        }
    }

    private static void tensor(TensorProto t, Path source, Set<String> out) {
        if (t.getDataLocation() != TensorProto.DataLocation.EXTERNAL) {
            return;
        }
        for (StringStringEntryProto e : t.getExternalDataList()) {
            if (e.getKey().equals("location")) {
                Path p = Path.of(e.getValue()).normalize();
                if (p.isAbsolute() || p.startsWith("..") || p.toString().isEmpty()) {
                    throw new StepwiseException(source + ": tensor '" + t.getName() + "' keeps its data at '"
                            + e.getValue() + "', outside the model's folder; Triton loads only the version folder");
                }
                out.add(p.toString());
            }
        }
    }

    /** Places files by hard link where it can, else by a streamed copy, and counts the bytes each way. */
    private static final class Placer {
        /** The first placement of each export file inside the repository: later ones link to it. */
        private final Map<Path, Path> firstPlaced = new LinkedHashMap<>();
        long linked;
        long copied;

        void place(Path source, Path target) {
            try {
                long size = Files.size(source);
                Path first = firstPlaced.get(source);
                if (link(target, source) || (first != null && link(target, first))) {
                    linked += size;
                } else {
                    OutputFolder.copyInto(source, target);
                    copied += size;
                }
                firstPlaced.putIfAbsent(source, target);
            } catch (IOException e) {
                throw OutputFolder.writeFailure("place " + source + " at", target, e);
            }
        }

        private static boolean link(Path link, Path existing) {
            try {
                Files.createLink(link, existing);
                return true;
            } catch (IOException | UnsupportedOperationException e) {
                return false; // another device, or a file system without hard links: the caller copies
            }
        }
    }

    /** A filled repository in its hidden folder, not yet in place. */
    static final class Pending implements AutoCloseable {
        private final OutputFolder out;
        private final Layout layout;

        Pending(OutputFolder out, Layout layout) {
            this.out = out;
            this.layout = layout;
        }

        Layout commit() {
            out.commit();
            return layout;
        }

        @Override
        public void close() {
            out.close();
        }
    }
}
