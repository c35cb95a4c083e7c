package dev.stepwise.processor;

import dev.stepwise.annotations.DType;
import dev.stepwise.annotations.Task;
import dev.stepwise.processor.OnnxConfigModel.CacheModel;
import dev.stepwise.processor.OnnxConfigModel.ConfigKey;
import dev.stepwise.processor.OnnxConfigModel.ConfigKeysModel;
import dev.stepwise.processor.OnnxConfigModel.TensorModel;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import javax.lang.model.element.AnnotationMirror;
import javax.lang.model.element.AnnotationValue;
import javax.lang.model.element.ExecutableElement;
import javax.lang.model.element.TypeElement;
import javax.lang.model.element.VariableElement;
import javax.lang.model.util.Elements;

/**
 * Reads an {@code @OnnxConfig} from its {@link AnnotationMirror} rather than through {@code getAnnotation}, so every
 * value keeps the {@link AnnotationValue} a diagnostic can point at.
 */
final class OnnxConfigReader {

    /** Thrown when a value is not of its declared type: javac has already reported that source error. */
    static final class UnreadableException extends Exception {
        private static final long serialVersionUID = 1L;

        UnreadableException(String member) {
            super("annotation member " + member + " has an erroneous value");
        }
    }

    /** {@code @ConfigKeys} members, in the order of the runtime's {@code ConfigKeyMap} components. */
    static final List<String> CONFIG_KEY_MEMBERS = List.of("numLayers", "numAttentionHeads", "numKeyValueHeads",
            "hiddenSize", "vocabSize", "maxPositions", "eosTokenId", "bosTokenId", "padTokenId");

    private final Elements elements;

    OnnxConfigReader(Elements elements) {
        this.elements = elements;
    }

    OnnxConfigModel read(TypeElement type, AnnotationMirror mirror) throws UnreadableException {
        Scope top = new Scope(mirror, true, Where.at(mirror));
        List<Located<Task>> tasks = new ArrayList<>();
        for (Located<AnnotationValue> t : top.list("tasks")) {
            tasks.add(new Located<>(constant(Task.class, "tasks", t.value()), t.where()));
        }
        List<TensorModel> inputs = tensors(top, "inputs", "input");
        List<TensorModel> outputs = tensors(top, "outputs", "output");
        return new OnnxConfigModel(type, mirror, top.string("modelType"), top.at("tasks"), tasks,
                top.value("opset", Integer.class), top.value("atol", Double.class), configKeys(top.nested("config")),
                top.at("inputs"), inputs, cache(top.nested("cache")), top.at("outputs"), outputs);
    }

    /** Reads an {@code @EncoderConfig}; its {@code encoder} member is read by {@link #encoderGraph}. */
    EncoderConfigModel readEncoder(TypeElement type, AnnotationMirror mirror) throws UnreadableException {
        Scope top = new Scope(mirror, true, Where.at(mirror));
        return new EncoderConfigModel(type, mirror, top.string("modelType"), top.at("tasks"), taskList(top),
                top.value("opset", Integer.class), top.value("atol", Double.class), configKeys(top.nested("config")),
                encoderGraph(top.nested("encoder")));
    }

    /** Reads a {@code @Seq2SeqConfig}: an {@code @EncoderGraph} and a {@code @DecoderGraph}. */
    Seq2SeqConfigModel readSeq2Seq(TypeElement type, AnnotationMirror mirror) throws UnreadableException {
        Scope top = new Scope(mirror, true, Where.at(mirror));
        Scope d = top.nested("decoder");
        Seq2SeqConfigModel.DecoderGraphModel decoder = new Seq2SeqConfigModel.DecoderGraphModel(d.self,
                d.at("inputs"), tensors(d, "inputs", "decoder input"), cache(d.nested("selfCache")),
                cache(d.nested("crossCache")), d.at("outputs"), tensors(d, "outputs", "decoder output"));
        return new Seq2SeqConfigModel(type, mirror, top.string("modelType"), top.value("opset", Integer.class),
                top.value("atol", Double.class), configKeys(top.nested("config")), encoderGraph(top.nested("encoder")),
                decoder);
    }

    /** An {@code @EncoderGraph}: inputs, and outputs each tied to one task. */
    private EncoderConfigModel.EncoderGraphModel encoderGraph(Scope g) throws UnreadableException {
        List<EncoderConfigModel.TaskOutputModel> outputs = new ArrayList<>();
        for (Located<AnnotationValue> item : g.list("outputs")) {
            Scope o = g.element("outputs", item);
            Scope t = o.nested("tensor");
            TensorModel tensor = new TensorModel("output", t.self, t.string("name"), t.enumValue("type", DType.class),
                    t.at("axes"), t.strings("axes"));
            outputs.add(new EncoderConfigModel.TaskOutputModel(o.self, o.enumValue("task", Task.class), tensor));
        }
        return new EncoderConfigModel.EncoderGraphModel(g.self, g.at("inputs"), tensors(g, "inputs", "input"),
                g.at("outputs"), outputs);
    }

    private List<Located<Task>> taskList(Scope top) throws UnreadableException {
        List<Located<Task>> tasks = new ArrayList<>();
        for (Located<AnnotationValue> t : top.list("tasks")) {
            tasks.add(new Located<>(constant(Task.class, "tasks", t.value()), t.where()));
        }
        return tasks;
    }

    private ConfigKeysModel configKeys(Scope scope) throws UnreadableException {
        List<ConfigKey> keys = new ArrayList<>();
        for (String member : CONFIG_KEY_MEMBERS) {
            keys.add(new ConfigKey(member, scope.string(member)));
        }
        return new ConfigKeysModel(scope.self, keys);
    }

    private List<TensorModel> tensors(Scope parent, String member, String role) throws UnreadableException {
        List<TensorModel> out = new ArrayList<>();
        for (Located<AnnotationValue> item : parent.list(member)) {
            Scope t = parent.element(member, item);
            out.add(new TensorModel(role, t.self, t.string("name"), t.enumValue("type", DType.class), t.at("axes"),
                    t.strings("axes")));
        }
        return out;
    }

    private CacheModel cache(Scope c) throws UnreadableException {
        return new CacheModel(c.self, c.string("past"), c.string("present"), c.enumValue("type", DType.class),
                c.at("axes"), c.strings("axes"));
    }

    /** The enum constant a value names; unreadable when the value is erroneous or the constant is unknown here. */
    private static <E extends Enum<E>> E constant(Class<E> type, String member, AnnotationValue v)
            throws UnreadableException {
        if (!(v.getValue() instanceof VariableElement constant)) {
            throw new UnreadableException(member);
        }
        try {
            return Enum.valueOf(type, constant.getSimpleName().toString());
        } catch (IllegalArgumentException e) {
            throw new UnreadableException(member);
        }
    }

    /**
     * One annotation being read. {@code written} says whether it appears in the source (a defaulted nested annotation
     * does not); {@code self} is where to report problems with the annotation as a whole.
     */
    private final class Scope {
        final AnnotationMirror mirror;
        final boolean written;
        final Where self;
        final Map<String, AnnotationValue> values = new HashMap<>();
        final Map<String, AnnotationValue> explicit = new HashMap<>();

        Scope(AnnotationMirror mirror, boolean written, Where self) {
            this.mirror = mirror;
            this.written = written;
            this.self = self;
            for (Map.Entry<? extends ExecutableElement, ? extends AnnotationValue> e
                    : elements.getElementValuesWithDefaults(mirror).entrySet()) {
                values.put(e.getKey().getSimpleName().toString(), e.getValue());
            }
            for (Map.Entry<? extends ExecutableElement, ? extends AnnotationValue> e
                    : mirror.getElementValues().entrySet()) {
                explicit.put(e.getKey().getSimpleName().toString(), e.getValue());
            }
        }

        /** Where a member's value is, or this annotation when the member is left at its default. */
        Where at(String member) {
            return written && explicit.containsKey(member) ? new Where(mirror, explicit.get(member)) : self;
        }

        private boolean spelledOut(String member) {
            return written && explicit.containsKey(member);
        }

        private AnnotationValue raw(String member) throws UnreadableException {
            AnnotationValue v = values.get(member);
            if (v == null) {
                throw new UnreadableException(member);
            }
            return v;
        }

        <T> Located<T> value(String member, Class<T> type) throws UnreadableException {
            Object v = raw(member).getValue();
            if (!type.isInstance(v)) {
                throw new UnreadableException(member);
            }
            return new Located<>(type.cast(v), at(member));
        }

        Located<String> string(String member) throws UnreadableException {
            return value(member, String.class);
        }

        <E extends Enum<E>> Located<E> enumValue(String member, Class<E> type) throws UnreadableException {
            return new Located<>(constant(type, member, raw(member)), at(member));
        }

        /** The elements of an array member, each with its own place when the array is spelled out. */
        List<Located<AnnotationValue>> list(String member) throws UnreadableException {
            if (!(raw(member).getValue() instanceof List<?> items)) {
                throw new UnreadableException(member);
            }
            List<Located<AnnotationValue>> out = new ArrayList<>();
            for (Object item : items) {
                if (!(item instanceof AnnotationValue v)) {
                    throw new UnreadableException(member);
                }
                out.add(new Located<>(v, spelledOut(member) ? new Where(mirror, v) : at(member)));
            }
            return out;
        }

        List<Located<String>> strings(String member) throws UnreadableException {
            List<Located<String>> out = new ArrayList<>();
            for (Located<AnnotationValue> item : list(member)) {
                if (!(item.value().getValue() instanceof String s)) {
                    throw new UnreadableException(member);
                }
                out.add(new Located<>(s, item.where()));
            }
            return out;
        }

        /** A nested annotation member such as {@code config = @ConfigKeys(...)}. */
        Scope nested(String member) throws UnreadableException {
            if (!(raw(member).getValue() instanceof AnnotationMirror m)) {
                throw new UnreadableException(member);
            }
            return spelledOut(member) ? new Scope(m, true, Where.at(m)) : new Scope(m, false, at(member));
        }

        /** A nested annotation that is one element of an array member such as {@code inputs}. */
        Scope element(String member, Located<AnnotationValue> item) throws UnreadableException {
            if (!(item.value().getValue() instanceof AnnotationMirror m)) {
                throw new UnreadableException(member);
            }
            return spelledOut(member) ? new Scope(m, true, Where.at(m)) : new Scope(m, false, item.where());
        }
    }
}
