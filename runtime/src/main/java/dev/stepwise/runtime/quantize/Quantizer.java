package dev.stepwise.runtime.quantize;

import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.export.Exporter;
import dev.stepwise.runtime.io.OutputFolder;
import dev.stepwise.runtime.onnx.OnnxModelReader;
import dev.stepwise.runtime.onnx.OnnxModelWriter;
import dev.stepwise.runtime.onnx.passes.SharedExternalData;
import dev.stepwise.runtime.onnx.proto.Onnx.ModelProto;
import dev.stepwise.runtime.onnx.proto.Onnx.OperatorSetIdProto;
import dev.stepwise.runtime.unroll.UnrollManifest;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.function.Consumer;
import java.util.stream.Stream;

/**
 * Quantizes one ONNX file or every ONNX file of a folder (a Stepwise export with its loop and search graphs, an
 * unrolled step folder, an encoder) to int8 dynamic ({@link DynamicInt8Rewriter}), int4 weight-only
 * ({@link Int4Rewriter}) or int8 static QDQ ({@link StaticQdqRewriter}, calibrated by {@link Calibrator}). Models are read one at a time; weights are streamed from where
 * they are stored into one weights file for the whole folder, so a weight several graphs share is quantized and stored
 * once and graphs that shared a weights file still do. Models that held their weights inline keep them inline. The
 * other files of a folder are copied. The result is checked by {@link QualityGate} and appears at the target only when
 * it passed: written into a temporary folder beside it, then moved into place.
 */
public final class Quantizer {
    /** The weights file when no source model names one. */
    static final String DEFAULT_DATA_FILE = Exporter.DATA_FILE;
    /** DynamicQuantizeLinear exists from opset 11. */
    static final int MIN_OPSET = 11;
    /** DequantizeLinear with a per-channel axis exists from opset 13. */
    static final int MIN_QDQ_OPSET = 13;

    private Quantizer() {
    }

    /**
     * Quantizes {@code input} into {@code output} as {@code options} say. For int8 static QDQ the float models are
     * first calibrated ({@link Calibrator}, with {@code options.qdq()}), then rewritten by {@link StaticQdqRewriter}.
     */
    public static QuantizeResult quantize(Path input, Path output, QuantizeOptions options) {
        boolean qdq = options.mode() == QuantizeMode.INT8_STATIC;
        long started = System.nanoTime();
        List<Path> models = models(input);
        Path sourceDir = Files.isDirectory(input) ? input : parentOf(input);
        if (output.toAbsolutePath().normalize().equals(sourceDir.toAbsolutePath().normalize())) {
            throw new StepwiseException(output + ": the output folder must not be the input's folder");
        }
        Set<String> dataFiles = new TreeSet<>();
        for (Path m : models) {
            // every file is checked before anything is written; each is read again when its turn comes
            OnnxModelReader r = OnnxModelReader.load(m);
            if (options.mode() != QuantizeMode.INT4) {
                checkOpset(r, qdq ? MIN_QDQ_OPSET : MIN_OPSET);
            }
            if (qdq && QualityGate.kind(r.model().getGraph()).equals(QualityGate.SEQ2SEQ_DECODER)) {
                // calibration feeds token ids only; a decoder reading an encoder's output would need the encoder run
                throw new StepwiseException(m + ": int8-static does not calibrate seq2seq decoders (they read an"
                        + " encoder's output); quantize the set with --mode int8 or int4");
            }
            dataFiles.addAll(r.externalFiles());
        }
        String dataFile = dataFiles.isEmpty() ? DEFAULT_DATA_FILE : dataFiles.iterator().next();
        QuantizeReport report = new QuantizeReport(input, options);
        Map<String, Integer> quantizedNodes = new TreeMap<>();
        List<Path> written = new ArrayList<>();
        try (OutputFolder out = OutputFolder.create(output)) {
            ActivationRanges ranges = !qdq ? null
                    : Calibrator.calibrate(input, models, sourceDir, options, out.path().resolve(".calibration"));
            Set<String> uncalibrated = new TreeSet<>();
            Map<String, Integer> smoothed = new TreeMap<>();
            int encoderIndex = -1;
            boolean anyExternal = false;
            try (SharedExternalData shared = new SharedExternalData(out.path().resolve(dataFile), Long.MAX_VALUE)) {
                QuantizedWeights weights = new QuantizedWeights(shared);
                for (Path m : models) {
                    OnnxModelReader source = OnnxModelReader.load(m);
                    boolean external = !source.externalFiles().isEmpty();
                    anyExternal |= external;
                    String kind = QualityGate.kind(source.model().getGraph());
                    if (kind.equals("encoder") && encoderIndex < 0) {
                        encoderIndex = written.size();
                    }
                    boolean encoder = options.mode() == QuantizeMode.INT8 && kind.equals("encoder");
                    // the built-in calibration set is text: without a tokenizer there is nothing to calibrate on
                    Smoothing smoothing = encoder && options.smoothAlpha() > 0
                            && Files.isRegularFile(sourceDir.resolve("tokenizer.json"))
                            ? Smoothing.calibrate(source, sourceDir, options, out.path().resolve(".smoothing"))
                            : Smoothing.none();
                    smoothed.put(m.getFileName().toString(), smoothing.size());
                    WeightRewriter rewriter = rewriter(source, weights, ranges, options, encoder, smoothing);
                    WeightRewriter.Result r = rewriter.rewrite();
                    if (rewriter instanceof StaticQdqRewriter s) {
                        uncalibrated.addAll(s.uncalibrated());
                    }
                    ModelProto model = withOpsets(source.model().toBuilder().setGraph(r.graph()).build(), options);
                    if (external) {
                        model = shared.share(model, source.directory());
                    }
                    model = model.toBuilder().setGraph(model.getGraph().toBuilder()
                            .addAllInitializer(r.mainInitializers())).build();
                    Path file = OnnxModelWriter.write(model, out.path(), m.getFileName().toString(), dataFile,
                            external, true);
                    written.add(file);
                    rewriter.counts().forEach((k, v) -> quantizedNodes.merge(k, v, Integer::sum));
                    report.opCounts(m.getFileName().toString(), OnnxModelReader.load(file).opCounts());
                }
            }
            if (!anyExternal) {
                delete(out.path().resolve(dataFile));
            }
            copyOthers(input, models, dataFiles, out.path());

            // a seq2seq set: its decoders are fed the encoder's output (float and quantized) by the gate
            QualityGate gate = encoderIndex < 0 ? new QualityGate(options)
                    : new QualityGate(options, models.get(encoderIndex), written.get(encoderIndex));
            List<QualityFigures> quality = new ArrayList<>();
            for (int i = 0; i < models.size(); i++) {
                QualityFigures f = gate.compare(models.get(i), written.get(i), sourceDir);
                quality.add(f);
                report.quality(f);
            }
            if (options.gate() && Files.isDirectory(input) && UnrollManifest.readIfPresent(input) != null) {
                StepChainGate.ChainFigures chain = gate.compareChain(input, out.path());
                quality.add(chain.all());
                report.stepChain(chain);
            }
            if (options.mode() == QuantizeMode.INT8) {
                report.smoothing(options.smoothAlpha(), smoothed);
            }
            if (qdq) {
                report.staticQdq(options.qdq(), ranges.size(), uncalibrated);
            }
            long before = bytes(models, sourceDir, dataFiles);
            long after = bytes(written, out.path(), anyExternal ? Set.of(dataFile) : Set.of());
            double seconds = (System.nanoTime() - started) / 1e9;
            QuantizeResult result = new QuantizeResult(out.target(),
                    written.stream().map(p -> out.target().resolve(p.getFileName())).toList(), before, after,
                    quantizedNodes, quality, seconds);
            if (!quality.stream().allMatch(QualityFigures::passed)) {
                StringBuilder why = new StringBuilder("quantized model below the quality thresholds (top-1 >= ")
                        .append(options.minTop1()).append(", mean KL <= ").append(options.maxKl())
                        .append(", cosine >= ").append(options.minCosine()).append("); nothing written:");
                quality.stream().filter(f -> !f.passed()).forEach(f -> why.append(' ').append(f.summary().trim()).append(';'));
                throw new StepwiseException(why.toString());
            }
            report.finish(before, after, quantizedNodes, seconds);
            report.write(out.path());
            out.commit();
            return result;
        }
    }

    /**
     * The last step of a command that writes a float folder ({@code export --quantize}, {@code unroll --quantize}):
     * {@code writeFloat} writes (and validates) the float folder into a hidden folder beside {@code target}, which is
     * then quantized into {@code target}, gated against it, and deleted. {@code target} appears only when both passed,
     * moved into place last as export does; on any failure nothing is left beside it.
     */
    public static QuantizeResult quantizeWritten(Path target, QuantizeOptions options, Consumer<Path> writeFloat) {
        Path scratch = OutputFolder.scratch(target);
        try {
            Path floatDir = scratch.resolve("float");
            writeFloat.accept(floatDir);
            return quantize(floatDir, target, options);
        } finally {
            OutputFolder.release(scratch);
        }
    }

    /**
     * An encoder's embedding tables are quantized in int8 whatever {@code embeddings} says: they are most of its bytes
     * (all-MiniLM-L6-v2: 47 of 90 MB; Xenova's int8 file quantizes them too) and only the rows looked up are
     * dequantized; {@code --keep-float} still keeps a table float.
     */
    private static WeightRewriter rewriter(OnnxModelReader source, QuantizedWeights weights, ActivationRanges ranges,
                                           QuantizeOptions options, boolean encoder, Smoothing smoothing) {
        return switch (options.mode()) {
            case INT8 -> new DynamicInt8Rewriter(source, weights, options.scheme(), options.keepFloat(),
                    options.embeddings() || encoder, smoothing);
            case INT4 -> new Int4Rewriter(source, weights, options);
            case INT8_STATIC -> new StaticQdqRewriter(source, weights, ranges, options.keepFloat(),
                    options.scheme().reduceRange());
        };
    }

    /** int4 nodes are in ONNX Runtime's {@code com.microsoft} domain, version 1: imported unless already. */
    private static ModelProto withOpsets(ModelProto model, QuantizeOptions options) {
        if (options.mode() != QuantizeMode.INT4
                || model.getOpsetImportList().stream().anyMatch(o -> o.getDomain().equals(Int4Rewriter.DOMAIN))) {
            return model;
        }
        return model.toBuilder().addOpsetImport(OperatorSetIdProto.newBuilder().setDomain(Int4Rewriter.DOMAIN)
                .setVersion(1)).build();
    }

    /** The .onnx files to quantize: the file itself, or every .onnx file of the folder (model.onnx first). */
    static List<Path> models(Path input) {
        if (Files.isRegularFile(input)) {
            return List.of(input);
        }
        if (!Files.isDirectory(input)) {
            throw new StepwiseException(input + ": no such file or folder");
        }
        try (Stream<Path> files = Files.list(input)) {
            List<Path> models = files.filter(p -> p.getFileName().toString().endsWith(".onnx") && Files.isRegularFile(p))
                    .sorted(Comparator.comparing((Path p) -> !p.getFileName().toString().equals(Exporter.MODEL_FILE))
                            .thenComparing(p -> p.getFileName().toString()))
                    .toList();
            if (models.isEmpty()) {
                throw new StepwiseException(input + ": no .onnx file in the folder");
            }
            return models;
        } catch (IOException e) {
            throw new StepwiseException(input + ": cannot list: " + e.getMessage(), e);
        }
    }

    private static void checkOpset(OnnxModelReader r, int min) {
        for (OperatorSetIdProto o : r.model().getOpsetImportList()) {
            if ((o.getDomain().isEmpty() || o.getDomain().equals("ai.onnx")) && o.getVersion() < min) {
                throw new StepwiseException(r.file() + ": opset " + o.getVersion() + " is below " + min
                        + (min == MIN_OPSET ? ", the first with DynamicQuantizeLinear"
                        : ", the first with per-channel DequantizeLinear") + "; re-export it at opset 13 or later");
            }
        }
    }

    /** A folder's other files (configs, tokenizer, manifest) are copied; a single file's side files too. */
    private static void copyOthers(Path input, List<Path> models, Set<String> dataFiles, Path to) {
        if (!Files.isDirectory(input)) {
            Exporter.copySideFiles(parentOf(input), to);
            return;
        }
        try (Stream<Path> files = Files.list(input)) {
            for (Path p : (Iterable<Path>) files::iterator) {
                String name = p.getFileName().toString();
                if (Files.isRegularFile(p) && !models.contains(p) && !dataFiles.contains(name) && !name.startsWith(".")
                        && !name.equals(QuantizeReport.FILE)) {
                    OutputFolder.copyInto(p, to.resolve(name));
                }
            }
        } catch (IOException e) {
            throw new StepwiseException(input + ": cannot copy its files: " + e.getMessage(), e);
        }
    }

    private static long bytes(List<Path> models, Path dir, Set<String> dataFiles) {
        long total = 0;
        try {
            for (Path m : models) {
                total += Files.size(m);
            }
            for (String d : dataFiles) {
                total += Files.size(dir.resolve(d));
            }
        } catch (IOException e) {
            throw new StepwiseException(dir + ": cannot measure: " + e.getMessage(), e);
        }
        return total;
    }

    private static void delete(Path p) {
        try {
            Files.deleteIfExists(p);
        } catch (IOException e) {
            throw new StepwiseException("cannot delete " + p + ": " + e.getMessage(), e);
        }
    }

    private static Path parentOf(Path file) {
        Path parent = file.toAbsolutePath().getParent();
        return parent != null ? parent : Path.of(".");
    }
}
