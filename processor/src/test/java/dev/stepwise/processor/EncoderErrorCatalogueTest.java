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
 * Every error of an {@code @EncoderConfig}, one row each: the problem, the edit to the valid BERT declaration
 * ({@link BertSource}) that causes it, the message (or its part saying what is wrong and what was expected), and the
 * text on the line the error must point at. Each row also proves that nothing is generated for an invalid class.
 */
class EncoderErrorCatalogueTest {

    record Entry(String problem, UnaryOperator<String> edit, String message, String onLineWith) {
        @Override
        public String toString() {
            return problem;
        }
    }

    private static final String FEATURE_AXES = "axes = {\"batch_size\", \"sequence_length\", \"hidden_size\"}";
    private static final String LABEL_AXES = "axes = {\"batch_size\", \"num_labels\"}";
    private static final String VOCAB_AXES = "axes = {\"batch_size\", \"sequence_length\", \"vocab_size\"}";
    private static final String TYPES_INPUT = "@TensorSpec(name = \"token_type_ids\", type = DType.INT64";
    private static final String MASK_INPUT = "        @TensorSpec(name = \"attention_mask\", type = DType.INT64,"
            + " axes = {\"batch_size\", \"sequence_length\"}),\n";
    private static final String TASKS = "tasks = {Task.FEATURE_EXTRACTION, Task.TEXT_CLASSIFICATION, Task.FILL_MASK}";

    static Stream<Arguments> catalogue() {
        return Stream.of(
                // ---- the task outputs ----
                error("classification output without a label axis",
                        replace(LABEL_AXES, "axes = {\"batch_size\", \"hidden_size\"}"),
                        "output \"logits\" of TEXT_CLASSIFICATION has axes [batch_size, hidden_size]; has no label"
                                + " axis; expected [batch_size, num_labels]",
                        "{\"batch_size\", \"hidden_size\"}"),
                error("classification output per token",
                        replace(LABEL_AXES, "axes = {\"batch_size\", \"sequence_length\", \"num_labels\"}"),
                        "output \"logits\" of TEXT_CLASSIFICATION has axes [batch_size, sequence_length, num_labels];"
                                + " expected [batch_size, num_labels]",
                        "\"sequence_length\", \"num_labels\""),
                error("fill-mask output without a vocab axis",
                        replace(VOCAB_AXES, "axes = {\"batch_size\", \"sequence_length\", \"hidden_size\"}"),
                        "output \"logits\" of FILL_MASK has axes [batch_size, sequence_length, hidden_size]; has no"
                                + " vocab axis; expected [batch_size, sequence_length, vocab_size]",
                        "name = \"logits\", type = DType.FLOAT, axes = {\"batch_size\", \"sequence_length\", \"hidden_size\"}"),
                error("feature-extraction output not [batch_size, sequence_length, hidden_size]",
                        replace(FEATURE_AXES, "axes = {\"batch_size\", \"hidden_size\"}"),
                        "output \"last_hidden_state\" of FEATURE_EXTRACTION has axes [batch_size, hidden_size];"
                                + " expected [batch_size, sequence_length, hidden_size]",
                        "name = \"last_hidden_state\""),
                error("integer output",
                        replace("name = \"last_hidden_state\", type = DType.FLOAT", "name = \"last_hidden_state\", type = DType.INT64"),
                        "output \"last_hidden_state\" has type INT64; expected FLOAT or FLOAT16",
                        "name = \"last_hidden_state\""),
                error("task without an output",
                        replace("\"num_labels\"})),\n            @TaskOutput(\n                task = Task.FILL_MASK,\n"
                                + "                tensor = @TensorSpec(name = \"logits\", type = DType.FLOAT, " + VOCAB_AXES
                                + "))}))", "\"num_labels\"}))}))"),
                        "task FILL_MASK has no output; expected a @TaskOutput(task = FILL_MASK, tensor = ...) such as"
                                + " logits [batch_size, sequence_length, vocab_size]",
                        "outputs = {"),
                error("two outputs for one task",
                        replace("task = Task.FILL_MASK,", "task = Task.TEXT_CLASSIFICATION /* again */,")
                                .then(replace(TASKS, "tasks = {Task.FEATURE_EXTRACTION, Task.TEXT_CLASSIFICATION}")),
                        "task TEXT_CLASSIFICATION has more than one output; expected exactly one",
                        "/* again */"),
                error("output for a task the class does not list",
                        replace(TASKS, "tasks = {Task.FEATURE_EXTRACTION, Task.TEXT_CLASSIFICATION}"),
                        "output \"logits\" is for task FILL_MASK, which tasks does not list; expected one output per"
                                + " listed task",
                        "task = Task.FILL_MASK,"),

                // ---- no cache in an encoder ----
                error("encoder declaring a KV cache tensor",
                        replace("{\"batch_size\", \"sequence_length\"})},\n", "{\"batch_size\", \"sequence_length\"}),\n"
                                + "            @TensorSpec(name = \"past_key_values.0.key\", type = DType.FLOAT, axes ="
                                + " {\"batch_size\", \"sequence_length\"})},\n"),
                        "input \"past_key_values.0.key\" is a KV-cache tensor; expected none in an encoder, which"
                                + " attends over its whole input at once",
                        "past_key_values.0.key"),
                error("encoder with a past axis",
                        replace(MASK_INPUT, "        @TensorSpec(name = \"attention_mask\", type = DType.INT64, axes ="
                                + " {\"batch_size\", \"past_sequence_length + sequence_length\"}),\n"),
                        "axis \"past_sequence_length + sequence_length\" in input \"attention_mask\" has a past;"
                                + " expected none in an encoder, which has no KV cache",
                        "past_sequence_length + sequence_length"),

                // ---- inputs ----
                error("encoder without attention_mask",
                        replace(MASK_INPUT, ""),
                        "no input named \"attention_mask\"; expected every encoder to take attention_mask"
                                + " [batch_size, sequence_length], since a padded batch needs it",
                        "inputs = {"),
                error("encoder without input_ids",
                        replace("@TensorSpec(name = \"input_ids\", type = DType.INT64, axes = {\"batch_size\","
                                + " \"sequence_length\"}),\n", ""),
                        "no input named \"input_ids\"; expected every encoder to take input_ids", "inputs = {"),
                error("token_type_ids of a non-integer type",
                        replace(TYPES_INPUT, "@TensorSpec(name = \"token_type_ids\", type = DType.FLOAT"),
                        "input \"token_type_ids\" has type FLOAT; expected INT64 or INT32",
                        "name = \"token_type_ids\""),
                error("id input not [batch_size, sequence_length]",
                        replace(MASK_INPUT, "        @TensorSpec(name = \"attention_mask\", type = DType.INT64,"
                                + " axes = {\"sequence_length\", \"batch_size\"}),\n"),
                        "input \"attention_mask\" has axes [sequence_length, batch_size]; expected [batch_size,"
                                + " sequence_length]",
                        "{\"sequence_length\", \"batch_size\"}"),
                error("an input the runtime cannot fill",
                        replace(TYPES_INPUT, "@TensorSpec(name = \"pixel_values\", type = DType.INT64"),
                        "input \"pixel_values\" is not an input the runtime can fill; expected input_ids,"
                                + " attention_mask, token_type_ids or position_ids",
                        "pixel_values"),
                error("duplicate input",
                        replace(TYPES_INPUT, "@TensorSpec(name = \"attention_mask\", type = DType.INT64"),
                        "duplicate tensor name \"attention_mask\": input \"attention_mask\" is already declared",
                        "{\"batch_size\", \"sequence_length\"})},"),
                error("output named like an input",
                        replace("name = \"last_hidden_state\"", "name = \"input_ids\""),
                        "duplicate tensor name \"input_ids\": output of FEATURE_EXTRACTION is also an input",
                        "name = \"input_ids\", type = DType.FLOAT"),
                error("unknown axis symbol",
                        replace(FEATURE_AXES, "axes = {\"batch_size\", \"sequence_length\", \"d_model\"}"),
                        "unknown axis symbol \"d_model\" in output \"last_hidden_state\"; expected one of batch_size,"
                                + " sequence_length, hidden_size, vocab_size, num_labels",
                        "\"d_model\""),

                // ---- tasks, class, scalars ----
                error("decoder task in an encoder",
                        replace(TASKS, "tasks = {Task.FEATURE_EXTRACTION, Task.TEXT_CLASSIFICATION, Task.FILL_MASK,"
                                + " Task.TEXT_GENERATION}"),
                        "task TEXT_GENERATION is not an encoder task; expected FEATURE_EXTRACTION, TEXT_CLASSIFICATION"
                                + " or FILL_MASK", "tasks = "),
                error("empty tasks",
                        replace(TASKS, "tasks = {}"),
                        "tasks is empty; expected at least one of FEATURE_EXTRACTION, TEXT_CLASSIFICATION, FILL_MASK",
                        "tasks = "),
                error("class does not implement EncoderModel",
                        replace("public final class Bert implements EncoderModel {", "public final class Bert {"),
                        "class Bert does not implement dev.stepwise.runtime.model.EncoderModel; expected it to",
                        "class Bert"),
                error("class not public",
                        replace("public final class Bert", "final class Bert"),
                        "class Bert is not public; expected a public class", "class Bert"),
                error("opset out of range",
                        replace("opset = 14", "opset = 12"),
                        "opset 12 is outside the supported range; expected 13..22", "opset = 12"),
                error("modelType not matching [a-z0-9_-]+",
                        replace("modelType = \"bert\"", "modelType = \"Bert\""),
                        "modelType \"Bert\" does not match [a-z0-9_\\-]+", "modelType = \"Bert\""));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("catalogue")
    void reportsTheProblemOnTheOffendingValue(Entry entry) {
        String source = entry.edit().apply(BertSource.TEXT);
        JavaFileObject file = JavaFileObjects.forSourceString("test.Bert", source);
        RecordingProcessor processor = new RecordingProcessor();

        Compilation c = Compiler.javac().withProcessors(processor).compile(file);

        assertThat(c).hadErrorContaining(entry.message())
                .inFile(file)
                .onLine(Gpt2Source.lineOf(source, entry.onLineWith()));
        assertEquals(List.of(), processor.created(), "nothing is generated for an invalid class");
    }

    private static Arguments error(String problem, UnaryOperator<String> edit, String message, String onLineWith) {
        return Arguments.of(new Entry(problem, edit, message, onLineWith));
    }

    interface Edit extends UnaryOperator<String> {
        default Edit then(UnaryOperator<String> next) {
            return s -> next.apply(apply(s));
        }
    }

    private static Edit replace(String from, String to) {
        return s -> Gpt2Source.replace(s, from, to);
    }
}
