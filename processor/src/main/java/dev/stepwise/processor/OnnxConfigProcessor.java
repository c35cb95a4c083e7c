package dev.stepwise.processor;

import com.google.auto.service.AutoService;
import dev.stepwise.annotations.EncoderConfig;
import dev.stepwise.annotations.OnnxConfig;
import dev.stepwise.annotations.Seq2SeqConfig;
import java.util.Set;
import javax.annotation.processing.AbstractProcessor;
import javax.annotation.processing.ProcessingEnvironment;
import javax.annotation.processing.Processor;
import javax.annotation.processing.RoundEnvironment;
import javax.lang.model.SourceVersion;
import javax.lang.model.element.AnnotationMirror;
import javax.lang.model.element.Element;
import javax.lang.model.element.TypeElement;

/**
 * For every {@code @OnnxConfig} class: read the annotation into a model, validate it (reporting every problem), and
 * only if it is valid generate its exporter, config and dummy inputs. The service file is written once, at the end.
 * The work itself lives in the reader, the validator and one generator per generated file.
 */
@AutoService(Processor.class)
public final class OnnxConfigProcessor extends AbstractProcessor {
    private static final String ANNOTATION = OnnxConfig.class.getCanonicalName();
    private static final String ENCODER_ANNOTATION = EncoderConfig.class.getCanonicalName();
    private static final String SEQ2SEQ_ANNOTATION = Seq2SeqConfig.class.getCanonicalName();

    private OnnxConfigReader reader;
    private OnnxConfigValidator validator;
    private ExporterGenerator exporter;
    private ConfigGenerator config;
    private DummyInputsGenerator dummyInputs;
    private final ServiceFile serviceFile = new ServiceFile();
    private EncoderConfigValidator encoderValidator;
    private EncoderExporterGenerator encoderExporter;
    private EncoderDummyInputsGenerator encoderDummyInputs;
    private final ServiceFile encoderServiceFile = new ServiceFile(RuntimeTypes.ENCODER_ARCHITECTURE_NAME);
    private Seq2SeqConfigValidator seq2seqValidator;
    private Seq2SeqExporterGenerator seq2seqExporter;
    private final ServiceFile seq2seqServiceFile = new ServiceFile(RuntimeTypes.SEQ2SEQ_ARCHITECTURE_NAME);

    @Override
    public synchronized void init(ProcessingEnvironment env) {
        super.init(env);
        reader = new OnnxConfigReader(env.getElementUtils());
        validator = new OnnxConfigValidator(env.getMessager(), env.getTypeUtils());
        SourceWriter writer = new SourceWriter(env.getFiler(), env.getMessager(), env.getElementUtils());
        exporter = new ExporterGenerator(writer);
        config = new ConfigGenerator(writer);
        dummyInputs = new DummyInputsGenerator(writer);
        encoderValidator = new EncoderConfigValidator(env.getMessager(), env.getTypeUtils());
        encoderExporter = new EncoderExporterGenerator(writer);
        encoderDummyInputs = new EncoderDummyInputsGenerator(writer);
        seq2seqValidator = new Seq2SeqConfigValidator(env.getMessager(), env.getTypeUtils(), encoderValidator);
        seq2seqExporter = new Seq2SeqExporterGenerator(writer);
    }

    @Override
    public Set<String> getSupportedAnnotationTypes() {
        return Set.of(ANNOTATION, ENCODER_ANNOTATION, SEQ2SEQ_ANNOTATION);
    }

    @Override
    public SourceVersion getSupportedSourceVersion() {
        return SourceVersion.latestSupported();
    }

    @Override
    public boolean process(Set<? extends TypeElement> annotations, RoundEnvironment round) {
        if (round.processingOver()) {
            serviceFile.write(processingEnv.getFiler(), processingEnv.getMessager());
            encoderServiceFile.write(processingEnv.getFiler(), processingEnv.getMessager());
            seq2seqServiceFile.write(processingEnv.getFiler(), processingEnv.getMessager());
            return false;
        }
        TypeElement encoder = processingEnv.getElementUtils().getTypeElement(ENCODER_ANNOTATION);
        if (encoder != null) {
            for (Element e : round.getElementsAnnotatedWith(encoder)) {
                AnnotationMirror mirror = mirrorOf(e, encoder);
                if (e instanceof TypeElement type && mirror != null) {
                    processEncoder(type, mirror);
                }
            }
        }
        TypeElement seq2seq = processingEnv.getElementUtils().getTypeElement(SEQ2SEQ_ANNOTATION);
        if (seq2seq != null) {
            for (Element e : round.getElementsAnnotatedWith(seq2seq)) {
                AnnotationMirror mirror = mirrorOf(e, seq2seq);
                if (e instanceof TypeElement type && mirror != null) {
                    processSeq2Seq(type, mirror);
                }
            }
        }
        TypeElement annotation = processingEnv.getElementUtils().getTypeElement(ANNOTATION);
        if (annotation == null) {
            return false;
        }
        for (Element e : round.getElementsAnnotatedWith(annotation)) {
            AnnotationMirror mirror = mirrorOf(e, annotation);
            if (e instanceof TypeElement type && mirror != null) {
                process(type, mirror);
            }
        }
        // not claimed: other processors may read @OnnxConfig too
        return false;
    }

    private void process(TypeElement type, AnnotationMirror mirror) {
        OnnxConfigModel model;
        try {
            model = reader.read(type, mirror);
        } catch (OnnxConfigReader.UnreadableException e) {
            return; // javac has reported the erroneous annotation value itself
        }
        if (!validator.validate(model)) {
            return;
        }
        GeneratedNames names = GeneratedNames.of(type);
        boolean written = config.generate(model, names)
                & dummyInputs.generate(model, names)
                & exporter.generate(model, names);
        if (written) {
            serviceFile.add(names.exporter().reflectionName(), type);
        }
    }

    private void processEncoder(TypeElement type, AnnotationMirror mirror) {
        EncoderConfigModel model;
        try {
            model = reader.readEncoder(type, mirror);
        } catch (OnnxConfigReader.UnreadableException e) {
            return; // javac has reported the erroneous annotation value itself
        }
        if (!encoderValidator.validate(model)) {
            return;
        }
        GeneratedNames names = GeneratedNames.of(type);
        boolean written = config.generate(type, model.config(), names)
                & encoderDummyInputs.generate(model, names)
                & encoderExporter.generate(model, names);
        if (written) {
            encoderServiceFile.add(names.exporter().reflectionName(), type);
        }
    }

    /** Checked; then its typed config and exporter (the {@code Seq2SeqArchitecture} service) are generated. */
    private void processSeq2Seq(TypeElement type, AnnotationMirror mirror) {
        Seq2SeqConfigModel model;
        try {
            model = reader.readSeq2Seq(type, mirror);
        } catch (OnnxConfigReader.UnreadableException e) {
            return; // javac has reported the erroneous annotation value itself
        }
        if (!seq2seqValidator.validate(model)) {
            return;
        }
        GeneratedNames names = GeneratedNames.of(type);
        if (config.generate(type, model.config(), names) & seq2seqExporter.generate(model, names)) {
            seq2seqServiceFile.add(names.exporter().reflectionName(), type);
        }
    }

    private static AnnotationMirror mirrorOf(Element e, TypeElement annotation) {
        for (AnnotationMirror m : e.getAnnotationMirrors()) {
            if (m.getAnnotationType().asElement().equals(annotation)) {
                return m;
            }
        }
        return null;
    }
}
