package dev.stepwise.processor;

import static com.google.testing.compile.CompilationSubject.assertThat;
import static org.junit.jupiter.api.Assertions.assertEquals;

import com.google.testing.compile.Compilation;
import com.google.testing.compile.Compiler;
import com.google.testing.compile.JavaFileObjects;
import java.util.List;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import javax.tools.JavaFileObject;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every error the processor reports, one row each: the problem, the edit to the valid GPT-2 declaration that causes
 * it, the message (or the part of it that says what is wrong and what was expected), and the text on the line the
 * error must point at. Each row also proves that nothing is generated for an invalid class.
 */
class ErrorCatalogueTest {

    /** One catalogue entry. {@code file} is the source's top-level type (nesting changes it). */
    record Entry(String problem, UnaryOperator<String> edit, String file, String message, String onLineWith) {
        @Override
        public String toString() {
            return problem;
        }
    }

    static Stream<Arguments> catalogue() {
        return Stream.of(
                // ---- axes ----
                error("unknown axis symbol",
                        replace("axes = {\"batch_size\", \"sequence_length\"}),\n",
                                "axes = {\"batch\", \"sequence_length\"}),\n"),
                        "unknown axis symbol \"batch\" in input \"input_ids\"; expected one of batch_size,"
                                + " sequence_length, past_sequence_length, vocab_size, hidden_size, num_attention_heads,"
                                + " num_key_value_heads, head_dim, or \"past_sequence_length + sequence_length\"",
                        "{\"batch\", "),
                error("unknown axis symbol inside a sum",
                        replace("\"past_sequence_length + sequence_length\"", "\"past_length + sequence_length\""),
                        "unknown axis symbol \"past_length\" (in \"past_length + sequence_length\") in input"
                                + " \"attention_mask\"; expected one of batch_size",
                        "past_length + sequence_length"),
                error("unknown axis symbol in the cache layout",
                        replace("\"num_key_value_heads\", \"past_sequence_length\"", "\"kv_heads\", \"past_sequence_length\""),
                        "unknown axis symbol \"kv_heads\" in the cache layout; expected one of", "\"kv_heads\""),
                error("malformed axis: sum not written \"a + b\"",
                        replace("\"past_sequence_length + sequence_length\"", "\"past_sequence_length+sequence_length\""),
                        "malformed axis \"past_sequence_length+sequence_length\" in input \"attention_mask\"; expected"
                                + " one axis symbol or the sum of two written \"a + b\", e.g. \"past_sequence_length"
                                + " + sequence_length\"",
                        "past_sequence_length+sequence_length"),
                error("malformed axis: sum of three",
                        replace("\"sequence_length\", \"vocab_size\"", "\"batch_size + sequence_length + head_dim\", \"vocab_size\""),
                        "malformed axis \"batch_size + sequence_length + head_dim\" in output \"logits\"",
                        "\"batch_size + sequence_length + head_dim\""),
                error("malformed axis: a number",
                        replace("\"sequence_length\", \"vocab_size\"", "\"sequence_length\", \"50257\""),
                        "malformed axis \"50257\" in output \"logits\"", "\"50257\""),
                error("tensor with no axes (rank 0)",
                        replace("axes = {\"batch_size\", \"sequence_length\", \"vocab_size\"}", "axes = {}"),
                        "output \"logits\" has no axes; expected 1 to 8 axes (rank-0 tensors are not supported)",
                        "name = \"logits\""),
                error("tensor of rank beyond 8",
                        replace("axes = {\"batch_size\", \"sequence_length\", \"vocab_size\"}",
                                "axes = {\"batch_size\", \"sequence_length\", \"head_dim\", \"head_dim\", \"head_dim\","
                                        + " \"head_dim\", \"head_dim\", \"head_dim\", \"vocab_size\"}"),
                        "output \"logits\" has 9 axes; expected at most 8, the highest rank the runtime supports",
                        "name = \"logits\""),
                error("cache layout with no axes",
                        replace("axes = {\"batch_size\", \"num_key_value_heads\", \"past_sequence_length\", \"head_dim\"}",
                                "axes = {}"),
                        "the cache layout has no axes; expected 1 to 8 axes", "axes = {})"),

                // ---- tensor names ----
                error("duplicate tensor name between an input and an output",
                        replace("\"vocab_size\"})})", "\"vocab_size\"}),\n        @TensorSpec(name = \"position_ids\","
                                + " type = DType.FLOAT, axes = {\"batch_size\", \"sequence_length\"})})"),
                        "duplicate tensor name \"position_ids\": output \"position_ids\" is already declared as input"
                                + " \"position_ids\"; expected every input, output and cache tensor to have its own name",
                        "name = \"position_ids\", type = DType.FLOAT"),
                error("duplicate tensor name between two inputs",
                        replace("name = \"position_ids\"", "name = \"attention_mask\""),
                        "duplicate tensor name \"attention_mask\": input \"attention_mask\" is already declared as"
                                + " input \"attention_mask\"",
                        "axes = {\"batch_size\", \"sequence_length\"})}"),
                error("tensor name taken by the expanded cache names",
                        replace("\"vocab_size\"})})", "\"vocab_size\"}),\n        @TensorSpec(name = \"present.0.key\","
                                + " type = DType.FLOAT, axes = {\"batch_size\"})})"),
                        "duplicate tensor name \"present.0.key\": output \"present.0.key\" is also a cache tensor of"
                                + " pattern \"present.{layer}.{kind}\"",
                        "present.0.key"),
                error("tensor with an empty name",
                        replace("name = \"position_ids\"", "name = \"\""),
                        "input #3 has an empty name; expected a graph tensor name such as \"input_ids\"",
                        "name = \"\""),

                // ---- dynamic axes must come from inputs ----
                error("output axis that no input defines",
                        replace("tasks = {Task.TEXT_GENERATION, Task.TEXT_GENERATION_WITH_PAST}", "tasks = {Task.TEXT_GENERATION}")
                                .then(replace("\"vocab_size\"})})", "\"vocab_size\"}),\n        @TensorSpec(name ="
                                        + " \"hidden\", type = DType.FLOAT, axes = {\"past_sequence_length\", \"hidden_size\"})})")),
                        "output \"hidden\" uses axis \"past_sequence_length\", but no input defines past_sequence_length;"
                                + " expected batch_size, sequence_length and past_sequence_length to be an axis of some input"
                                + " (sizes from config.json are always defined)",
                        "{\"past_sequence_length\", \"hidden_size\"}"),

                // ---- the cache ----
                error("cache layout without past_sequence_length",
                        replace("\"num_key_value_heads\", \"past_sequence_length\", \"head_dim\"", "\"num_key_value_heads\", \"head_dim\""),
                        "the cache layout [batch_size, num_key_value_heads, head_dim] has no past_sequence_length axis;"
                                + " expected the axis the cache grows along",
                        "\"num_key_value_heads\", \"head_dim\""),
                error("cache layout without batch_size",
                        replace("{\"batch_size\", \"num_key_value_heads\"", "{\"num_key_value_heads\""),
                        "the cache layout [num_key_value_heads, past_sequence_length, head_dim] has no batch_size axis",
                        "{\"num_key_value_heads\", \"past_sequence_length\""),
                error("cache layout using sequence_length alone",
                        replace("\"num_key_value_heads\", \"past_sequence_length\"", "\"num_key_value_heads\", \"sequence_length\""),
                        "cache axis \"sequence_length\" uses sequence_length; expected the past layout to grow along"
                                + " past_sequence_length alone",
                        "\"num_key_value_heads\", \"sequence_length\""),
                error("cache name pattern without {layer}",
                        replace("past = \"past_key_values.{layer}.{kind}\"", "past = \"past_key_values.{kind}\""),
                        "the past cache name pattern \"past_key_values.{kind}\" has no {layer}; expected the layer index"
                                + " placeholder, e.g. \"past_key_values.{layer}.{kind}\"",
                        "past = "),
                error("cache name pattern without {kind}",
                        replace("present = \"present.{layer}.{kind}\"", "present = \"present.{layer}\""),
                        "the present cache name pattern \"present.{layer}\" has no {kind}; expected the key/value"
                                + " placeholder, e.g. \"present.{layer}.{kind}\"",
                        "present = "),
                error("past cache pattern equal to the present pattern",
                        replace("present = \"present.{layer}.{kind}\"", "present = \"past_key_values.{layer}.{kind}\""),
                        "the present cache name pattern equals the past pattern \"past_key_values.{layer}.{kind}\";"
                                + " expected distinct patterns",
                        "present = "),
                error("cache of a non-floating type",
                        replace("type = DType.FLOAT,\n", "type = DType.INT64,\n"),
                        "cache type INT64 is not a floating type; expected FLOAT or FLOAT16", "    type = DType.INT64,"),

                // ---- the id inputs ----
                error("input_ids of a non-integer type",
                        replace("name = \"input_ids\", type = DType.INT64", "name = \"input_ids\", type = DType.FLOAT"),
                        "input \"input_ids\" has type FLOAT; expected INT64 or INT32", "name = \"input_ids\""),
                error("attention_mask of a non-integer type",
                        replace("name = \"attention_mask\", type = DType.INT64", "name = \"attention_mask\", type = DType.BOOL"),
                        "input \"attention_mask\" has type BOOL; expected INT64 or INT32", "name = \"attention_mask\""),
                error("position_ids of a non-integer type",
                        replace("name = \"position_ids\", type = DType.INT64", "name = \"position_ids\", type = DType.FLOAT16"),
                        "input \"position_ids\" has type FLOAT16; expected INT64 or INT32", "name = \"position_ids\""),
                error("id input not of rank 2",
                        replace("axes = {\"batch_size\", \"sequence_length\"}),\n", "axes = {\"batch_size\"}),\n"),
                        "input \"input_ids\" has 1 axis; expected 2, [batch_size, sequence_length]",
                        "name = \"input_ids\""),
                error("no input_ids input",
                        replace("name = \"input_ids\"", "name = \"tokens\""),
                        "no input named \"input_ids\"; expected every decoder to take input_ids [batch_size,"
                                + " sequence_length]",
                        "inputs = {"),
                error("no logits output",
                        replace("name = \"logits\"", "name = \"scores\""),
                        "no output named \"logits\"; expected every decoder to produce logits [batch_size,"
                                + " sequence_length, vocab_size]",
                        "outputs = {"),
                error("attention_mask without the total sequence as its last axis, with past",
                        replace("\"batch_size\", \"past_sequence_length + sequence_length\"", "\"batch_size\", \"sequence_length\""),
                        "the last axis of input \"attention_mask\" is \"sequence_length\"; expected \"past_sequence_length"
                                + " + sequence_length\" because tasks include TEXT_GENERATION_WITH_PAST",
                        "name = \"attention_mask\""),

                // ---- normalized config keys ----
                error("missing normalized key numLayers",
                        replace("numLayers = \"n_layer\"", "numLayers = \"\""),
                        "@ConfigKeys numLayers is empty; expected the config.json key that holds the number of layers",
                        "numLayers = "),
                error("missing normalized key numAttentionHeads",
                        replace("numAttentionHeads = \"n_head\"", "numAttentionHeads = \"\""),
                        "@ConfigKeys numAttentionHeads is empty; expected the config.json key that holds the number of"
                                + " attention heads",
                        "numAttentionHeads = "),
                error("missing normalized key hiddenSize",
                        replace("hiddenSize = \"n_embd\"", "hiddenSize = \"\""),
                        "@ConfigKeys hiddenSize is empty; expected the config.json key that holds the hidden size",
                        "hiddenSize = "),
                error("missing normalized key vocabSize",
                        replace("vocabSize = \"vocab_size\"", "vocabSize = \"\""),
                        "@ConfigKeys vocabSize is empty; expected the config.json key that holds the vocabulary size",
                        "vocabSize = "),

                // ---- the annotated class ----
                error("class does not implement CausalLm",
                        replace("public final class Gpt2 implements CausalLm {", "public final class Gpt2 {"),
                        "class Gpt2 does not implement dev.stepwise.runtime.model.CausalLm; expected it to",
                        "class Gpt2"),
                error("class not public",
                        replace("public final class Gpt2", "final class Gpt2"),
                        "class Gpt2 is not public; expected a public class", "class Gpt2"),
                error("class abstract",
                        replace("public final class Gpt2", "public abstract class Gpt2"),
                        "class Gpt2 is abstract; expected a concrete class, since its generated exporter creates it"
                                + " with new Gpt2()",
                        "class Gpt2"),
                error("class without a no-argument constructor",
                        replace("implements CausalLm {\n", "implements CausalLm {\n    public Gpt2(int layers) {\n    }\n"),
                        "class Gpt2 has no public no-argument constructor; expected one", "class Gpt2"),
                error("class whose no-argument constructor is not public",
                        replace("implements CausalLm {\n", "implements CausalLm {\n    private Gpt2() {\n    }\n"),
                        "the no-argument constructor of Gpt2 is not public; expected a public no-argument constructor",
                        "private Gpt2()"),
                error("class nested and not static",
                        nestIn("public final class Models {"), "test.Models",
                        "class Gpt2 is an inner (non-static) class; expected a top-level or static nested class",
                        "class Gpt2"),
                error("class nested in a class that is not public",
                        nestIn("final class Models {").then(replace("public final class Gpt2", "public static final class Gpt2")),
                        "test.Models",
                        "class Gpt2 is nested in Models, which is not public; expected every enclosing class to be public",
                        "class Gpt2"),
                error("class generic",
                        replace("public final class Gpt2 implements", "public final class Gpt2<T> implements"),
                        "class Gpt2 declares type parameters; expected a non-generic class", "class Gpt2"),
                error("annotation on an interface",
                        replace("public final class Gpt2 implements CausalLm {", "public interface Gpt2 extends CausalLm {"),
                        "@OnnxConfig must be on a class; Gpt2 is an interface, expected a public class implementing"
                                + " dev.stepwise.runtime.model.CausalLm",
                        "interface Gpt2"),

                // ---- tasks, opset, atol, modelType ----
                error("empty tasks",
                        replace("tasks = {Task.TEXT_GENERATION, Task.TEXT_GENERATION_WITH_PAST}", "tasks = {}"),
                        "tasks is empty; expected at least one of TEXT_GENERATION, TEXT_GENERATION_WITH_PAST", "tasks = "),
                error("duplicate task",
                        replace("tasks = {Task.TEXT_GENERATION, Task.TEXT_GENERATION_WITH_PAST}",
                                "tasks = {Task.TEXT_GENERATION_WITH_PAST, Task.TEXT_GENERATION, Task.TEXT_GENERATION_WITH_PAST}"),
                        "task TEXT_GENERATION_WITH_PAST is listed more than once; expected each task at most once",
                        "tasks = "),
                error("opset below 13",
                        replace("opset = 14", "opset = 12"),
                        "opset 12 is outside the supported range; expected 13..22", "opset = "),
                error("opset above 22",
                        replace("opset = 14", "opset = 23"),
                        "opset 23 is outside the supported range; expected 13..22", "opset = "),
                error("atol zero",
                        replace("atol = 1e-4", "atol = 0"),
                        "atol 0.0 is not a positive tolerance; expected a finite number > 0", "atol = "),
                error("atol negative",
                        replace("atol = 1e-4", "atol = -1e-4"),
                        "atol -1.0E-4 is not a positive tolerance; expected a finite number > 0", "atol = "),
                error("atol not a number",
                        replace("atol = 1e-4", "atol = Double.NaN"),
                        "atol NaN is not a positive tolerance; expected a finite number > 0", "atol = "),
                error("empty modelType",
                        replace("modelType = \"gpt2\"", "modelType = \"\""),
                        "modelType is empty; expected the model_type of config.json, e.g. \"gpt2\"", "modelType = "),
                error("modelType not matching [a-z0-9_-]+",
                        replace("modelType = \"gpt2\"", "modelType = \"GPT 2\""),
                        "modelType \"GPT 2\" does not match [a-z0-9_\\-]+; expected a model_type of config.json,"
                                + " lower-case letters, digits, '_' and '-' only",
                        "modelType = "));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("catalogue")
    void reportsTheProblemOnTheOffendingValue(Entry entry) {
        String source = entry.edit().apply(Gpt2Source.TEXT);
        JavaFileObject file = JavaFileObjects.forSourceString(entry.file(), source);

        RecordingProcessor processor = new RecordingProcessor();

        Compilation c = Compiler.javac().withProcessors(processor).compile(file);

        assertThat(c).hadErrorContaining(entry.message())
                .inFile(file)
                .onLine(Gpt2Source.lineOf(source, entry.onLineWith()));
        assertEquals(List.of(), processor.created(), "nothing is generated for an invalid class");
    }

    // ---- table helpers ----

    private static Arguments error(String problem, UnaryOperator<String> edit, String message, String onLineWith) {
        return error(problem, edit, "test.Gpt2", message, onLineWith);
    }

    private static Arguments error(String problem, UnaryOperator<String> edit, String file, String message,
                                   String onLineWith) {
        return Arguments.of(new Entry(problem, edit, file, message, onLineWith));
    }

    /** An edit; {@code then} chains a second one. */
    interface Edit extends UnaryOperator<String> {
        default Edit then(UnaryOperator<String> next) {
            return s -> next.apply(apply(s));
        }
    }

    private static Edit replace(String from, String to) {
        return s -> Gpt2Source.replace(s, from, to);
    }

    /** Moves the annotated class into an outer class opened by {@code outerHeader}. */
    private static Edit nestIn(String outerHeader) {
        return s -> {
            int at = s.indexOf("@OnnxConfig(");
            return s.substring(0, at) + outerHeader + "\n" + s.substring(at) + "}\n";
        };
    }
}
