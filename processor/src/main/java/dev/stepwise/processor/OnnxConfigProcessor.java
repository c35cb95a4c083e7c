package dev.stepwise.processor;

import com.google.auto.service.AutoService;
import com.squareup.javapoet.ClassName;
import dev.stepwise.annotations.EncoderConfig;
import dev.stepwise.annotations.OnnxConfig;
import dev.stepwise.annotations.Seq2SeqConfig;
import java.util.List;
import java.util.Set;
import java.util.function.BiPredicate;
import java.util.function.Predicate;
import javax.annotation.processing.AbstractProcessor;
import javax.annotation.processing.ProcessingEnvironment;
import javax.annotation.processing.Processor;
import javax.annotation.processing.RoundEnvironment;
import javax.lang.model.SourceVersion;
import javax.lang.model.element.AnnotationMirror;
import javax.lang.model.element.Element;
import javax.lang.model.element.TypeElement;

/**
 * For every class carrying one of the architecture annotations ({@code @EncoderConfig}, {@code @Seq2SeqConfig},
 * {@code @OnnxConfig}): read the annotation into a model, validate it (reporting every problem), and only if it is
 * valid generate its config, dummy inputs (decoders and encoders) and exporter. Each kind's service file is written
 * once, at the end. The work itself lives in the reader, the validators and one generator per generated file.
 */
@AutoService(Processor.class)
public final class OnnxConfigProcessor extends AbstractProcessor {
    private List<Kind<?>> kinds;

    /** Reads one annotation into its model; fails when javac has reported an erroneous value itself. */
    private interface ModelReader<M> {
        M read(TypeElement type, AnnotationMirror mirror) throws OnnxConfigReader.UnreadableException;
    }

    /**
     * One annotation the processor handles: how its classes are read, checked and generated for, and the service
     * file their exporters are listed in.
     */
    private record Kind<M>(String annotation, ModelReader<M> reader, Predicate<M> validator,
                           BiPredicate<M, GeneratedNames> generator, ServiceFile services) {
        Kind(Class<?> annotation, ModelReader<M> reader, Predicate<M> validator,
             BiPredicate<M, GeneratedNames> generator, ClassName service) {
            this(annotation.getCanonicalName(), reader, validator, generator, new ServiceFile(service));
        }

        void process(TypeElement type, AnnotationMirror mirror) {
            M model;
            try {
                model = reader.read(type, mirror);
            } catch (OnnxConfigReader.UnreadableException e) {
                return; // javac has reported the erroneous annotation value itself
            }
            if (!validator.test(model)) {
                return;
            }
            GeneratedNames names = GeneratedNames.of(type);
            if (generator.test(model, names)) {
                services.add(names.exporter().reflectionName(), type);
            }
        }
    }

    @Override
    public synchronized void init(ProcessingEnvironment env) {
        super.init(env);
        OnnxConfigReader reader = new OnnxConfigReader(env.getElementUtils());
        Diagnostics report = new Diagnostics(env.getMessager());
        OnnxConfigValidator validator = new OnnxConfigValidator(report, env.getTypeUtils());
        EncoderConfigValidator encoderValidator = new EncoderConfigValidator(report, env.getTypeUtils());
        Seq2SeqConfigValidator seq2seqValidator = new Seq2SeqConfigValidator(report, env.getTypeUtils(),
                encoderValidator);
        SourceWriter writer = new SourceWriter(env.getFiler(), env.getMessager(), env.getElementUtils());
        ConfigGenerator config = new ConfigGenerator(writer);
        DummyInputsGenerator dummyInputs = new DummyInputsGenerator(writer);
        ExporterGenerator exporter = new ExporterGenerator(writer);
        // '&', not '&&': every file is attempted, so each failure is reported
        kinds = List.of(
                new Kind<EncoderConfigModel>(EncoderConfig.class, reader::readEncoder, encoderValidator::validate,
                        (m, names) -> config.generate(m, names) & dummyInputs.generate(m, names)
                                & exporter.generate(m, names),
                        RuntimeTypes.ENCODER_ARCHITECTURE),
                new Kind<Seq2SeqConfigModel>(Seq2SeqConfig.class, reader::readSeq2Seq, seq2seqValidator::validate,
                        (m, names) -> config.generate(m, names) & exporter.generate(m, names),
                        RuntimeTypes.SEQ2SEQ_ARCHITECTURE),
                new Kind<OnnxConfigModel>(OnnxConfig.class, reader::read, validator::validate,
                        (m, names) -> config.generate(m, names) & dummyInputs.generate(m, names)
                                & exporter.generate(m, names),
                        RuntimeTypes.ARCHITECTURE));
    }

    @Override
    public Set<String> getSupportedAnnotationTypes() {
        return Set.of(OnnxConfig.class.getCanonicalName(), EncoderConfig.class.getCanonicalName(),
                Seq2SeqConfig.class.getCanonicalName());
    }

    @Override
    public SourceVersion getSupportedSourceVersion() {
        return SourceVersion.latestSupported();
    }

    @Override
    public boolean process(Set<? extends TypeElement> annotations, RoundEnvironment round) {
        for (Kind<?> d : kinds) {
            if (round.processingOver()) {
                d.services().write(processingEnv.getFiler(), processingEnv.getMessager());
                continue;
            }
            TypeElement annotation = processingEnv.getElementUtils().getTypeElement(d.annotation());
            if (annotation == null) {
                continue;
            }
            for (Element e : round.getElementsAnnotatedWith(annotation)) {
                AnnotationMirror mirror = mirrorOf(e, annotation);
                if (e instanceof TypeElement type && mirror != null) {
                    d.process(type, mirror);
                }
            }
        }
        // not claimed: other processors may read these annotations too
        return false;
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
