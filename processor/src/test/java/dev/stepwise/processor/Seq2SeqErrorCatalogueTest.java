package dev.stepwise.processor;

import static com.google.testing.compile.CompilationSubject.assertThat;
import static dev.stepwise.processor.ValidDeclarationTest.compile;
import static org.junit.jupiter.api.Assertions.assertEquals;

import com.google.testing.compile.Compilation;
import com.google.testing.compile.Compiler;
import com.google.testing.compile.JavaFileObjects;
import java.util.List;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import javax.tools.JavaFileObject;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every error of a {@code @Seq2SeqConfig}, one row each: the problem, the edit to the valid BART declaration
 * ({@link BartSource}) that causes it, the message (or its part saying what is wrong and what was expected), and the
 * text on the line the error must point at. Each row also proves that nothing is generated for an invalid class.
 */
class Seq2SeqErrorCatalogueTest {

    record Entry(String problem, UnaryOperator<String> edit, String message, String onLineWith) {
        @Override
        public String toString() {
            return problem;
        }
    }

    private static final String CROSS_AXES = "axes = {\"batch_size\", \"num_attention_heads\", \"encoder_sequence_length\","
            + " \"head_dim\"}";
    private static final String SELF_AXES = "axes = {\"batch_size\", \"num_attention_heads\","
            + " \"past_decoder_sequence_length\", \"head_dim\"}";
    private static final String HIDDEN_INPUT = "            @TensorSpec(name = \"encoder_hidden_states\", type ="
            + " DType.FLOAT, axes = {\"batch_size\", \"encoder_sequence_length\", \"hidden_size\"})},\n";
    private static final String MASK_INPUT = "            @TensorSpec(name = \"encoder_attention_mask\", type ="
            + " DType.INT64, axes = {\"batch_size\", \"encoder_sequence_length\"}),\n";

    static Stream<Arguments> catalogue() {
        return Stream.of(
                // ---- the caches ----
                error("cross-attention cache along the decoder's past",
                        replace(CROSS_AXES, "axes = {\"batch_size\", \"num_attention_heads\","
                                + " \"past_decoder_sequence_length\", \"head_dim\"} /* cross */"),
                        "cross-attention cache axis \"past_decoder_sequence_length\" is not the encoder's sequence;"
                                + " expected encoder_sequence_length, since the cross cache is computed once from"
                                + " encoder_hidden_states",
                        "/* cross */"),
                error("cross-attention cache without the encoder's sequence",
                        replace(CROSS_AXES, "axes = {\"batch_size\", \"num_attention_heads\", \"head_dim\", \"head_dim\"}"),
                        "the cross-attention cache layout [batch_size, num_attention_heads, head_dim, head_dim] has no"
                                + " encoder_sequence_length axis",
                        "\"head_dim\", \"head_dim\""),
                error("self-attention cache along the encoder's sequence",
                        replace(SELF_AXES, "axes = {\"batch_size\", \"num_attention_heads\", \"encoder_sequence_length\","
                                + " \"head_dim\"} /* self */"),
                        "self-attention cache axis \"encoder_sequence_length\" is not the decoder's past; expected"
                                + " past_decoder_sequence_length",
                        "/* self */"),
                error("caches laid out differently",
                        replace(CROSS_AXES, "axes = {\"batch_size\", \"encoder_sequence_length\","
                                + " \"num_attention_heads\", \"head_dim\"}"),
                        "the cross-attention cache layout [batch_size, encoder_sequence_length, num_attention_heads,"
                                + " head_dim] differs from the self-attention layout",
                        "\"batch_size\", \"encoder_sequence_length\", \"num_attention_heads\""),
                error("cross cache named like the self cache",
                        replace("past = \"past_key_values.{layer}.encoder.{kind}\"",
                                "past = \"past_key_values.{layer}.decoder.{kind}\" /* same */"),
                        "the cross-attention past cache name pattern \"past_key_values.{layer}.decoder.{kind}\" is"
                                + " also the self-attention past pattern",
                        "/* same */"),
                error("cache pattern without {layer}",
                        replace("present = \"present.{layer}.encoder.{kind}\"", "present = \"present.encoder.{kind}\""),
                        "the cross-attention cache name pattern \"present.encoder.{kind}\" lacks {layer}",
                        "present.encoder.{kind}"),
                error("cache of three axes",
                        replace(SELF_AXES, "axes = {\"batch_size\", \"past_decoder_sequence_length\", \"head_dim\"}"),
                        "the self-attention cache layout has 3 axes; expected 4",
                        "axes = {\"batch_size\", \"past_decoder_sequence_length\", \"head_dim\"}"),
                error("decoder-only axis name in a cache",
                        replace(SELF_AXES, "axes = {\"batch_size\", \"num_attention_heads\", \"past_sequence_length\","
                                + " \"head_dim\"}"),
                        "unknown axis symbol \"past_sequence_length\" in the self-attention cache layout",
                        "\"past_sequence_length\""),

                // ---- the decoder's inputs and output ----
                error("decoder without encoder_hidden_states",
                        replace(MASK_INPUT + HIDDEN_INPUT, MASK_INPUT.replace("),\n", ")},\n")),
                        "no decoder input named \"encoder_hidden_states\"; expected the decoder to take the encoder's"
                                + " output encoder_hidden_states [batch_size, encoder_sequence_length, hidden_size],"
                                + " from which its cross-attention cache is computed",
                        "inputs = { // decoder"),
                error("decoder without encoder_attention_mask",
                        replace(MASK_INPUT, ""),
                        "no decoder input named \"encoder_attention_mask\"",
                        "inputs = { // decoder"),
                error("encoder_hidden_states along the decoder's sequence",
                        replace(HIDDEN_INPUT, HIDDEN_INPUT.replace("\"encoder_sequence_length\"",
                                "\"decoder_sequence_length\"")),
                        "decoder input \"encoder_hidden_states\" has axes [batch_size, decoder_sequence_length,"
                                + " hidden_size]; expected [batch_size, encoder_sequence_length, hidden_size]",
                        "name = \"encoder_hidden_states\""),
                error("integer encoder_hidden_states",
                        replace(HIDDEN_INPUT, HIDDEN_INPUT.replace("DType.FLOAT", "DType.INT64")),
                        "decoder input \"encoder_hidden_states\" has type INT64; expected FLOAT or FLOAT16",
                        "name = \"encoder_hidden_states\""),
                error("a decoder input the runtime cannot fill",
                        replace(MASK_INPUT, MASK_INPUT + "            @TensorSpec(name = \"decoder_position_ids\","
                                + " type = DType.INT64, axes = {\"batch_size\", \"decoder_sequence_length\"}),\n"),
                        "decoder input \"decoder_position_ids\" is not an input the runtime can fill",
                        "decoder_position_ids"),
                error("logits along the encoder's sequence",
                        replace("axes = {\"batch_size\", \"decoder_sequence_length\", \"vocab_size\"}",
                                "axes = {\"batch_size\", \"encoder_sequence_length\", \"vocab_size\"}"),
                        "decoder output \"logits\" has axes [batch_size, encoder_sequence_length, vocab_size];"
                                + " expected [batch_size, decoder_sequence_length, vocab_size]",
                        "name = \"logits\""),

                // ---- the encoder ----
                error("encoder along the decoder-only sequence name",
                        replace("@TensorSpec(name = \"attention_mask\", type = DType.INT64, axes = {\"batch_size\","
                                + " \"encoder_sequence_length\"})", "@TensorSpec(name = \"attention_mask\", type ="
                                + " DType.INT64, axes = {\"batch_size\", \"sequence_length\"})"),
                        "axis \"sequence_length\" in encoder input \"attention_mask\" is ambiguous in an"
                                + " encoder-decoder model; expected encoder_sequence_length",
                        "\"sequence_length\"})"),
                error("encoder with a classification output",
                        replace("task = Task.FEATURE_EXTRACTION,", "task = Task.TEXT_CLASSIFICATION,"),
                        "output \"last_hidden_state\" is for task TEXT_CLASSIFICATION, which tasks does not list",
                        "task = Task.TEXT_CLASSIFICATION,"),
                error("class does not implement Seq2SeqLm",
                        replace("public final class Bart implements Seq2SeqLm {", "public final class Bart {")
                                .then(s -> s.replace("@Override\n", "")),
                        "class Bart does not implement dev.stepwise.runtime.model.Seq2SeqLm; expected it to",
                        "class Bart"),
                error("empty modelType",
                        replace("modelType = \"bart\"", "modelType = \"\""),
                        "modelType is empty", "modelType = \"\""));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("catalogue")
    void reportsTheProblemOnTheOffendingValue(Entry entry) {
        String source = entry.edit().apply(BartSource.TEXT);
        JavaFileObject file = JavaFileObjects.forSourceString("test.Bart", source);
        RecordingProcessor processor = new RecordingProcessor();

        Compilation c = Compiler.javac().withProcessors(processor).compile(file);

        assertThat(c).hadErrorContaining(entry.message())
                .inFile(file)
                .onLine(Gpt2Source.lineOf(source, entry.onLineWith()));
        assertEquals(List.of(), processor.created(), "nothing is generated for an invalid class");
    }

    @Test
    void validBartCompilesWithoutWarningsAndGetsItsConfigExporterAndServiceEntry() throws java.io.IOException {
        Compilation c = compile(BartSource.valid());

        assertThat(c).succeededWithoutWarnings();
        assertThat(c).generatedSourceFile("test.BartConfig");
        assertThat(c).generatedFile(javax.tools.StandardLocation.CLASS_OUTPUT,
                "META-INF/services/dev.stepwise.runtime.model.Seq2SeqArchitecture")
                .contentsAsUtf8String().isEqualTo("test.BartExporter\n");
        String exporter = ValidDeclarationTest.generated(c, "test.BartExporter").replaceAll("\\s*\\n\\s*", " ");
        org.junit.jupiter.api.Assertions.assertTrue(exporter.contains(
                "new CacheDecl(\"past_key_values.{layer}.encoder.{kind}\", \"present.{layer}.encoder.{kind}\","
                        + " DType.FLOAT, List.of(\"batch_size\", \"num_attention_heads\", \"encoder_sequence_length\","
                        + " \"head_dim\"))"), exporter);
    }

    @Test
    void defaultDecoderGraphIsOptimumsContract() {
        String source = BartSource.TEXT.replaceAll("(?s)decoder = @DecoderGraph\\(.*\\)\\)\\)\npublic",
                "decoder = @DecoderGraph)\npublic");
        Compilation c = compile(JavaFileObjects.forSourceString("test.Bart", source));

        assertThat(c).succeededWithoutWarnings();
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
