package example;

import dev.stepwise.runtime.LanguageModel;
import dev.stepwise.runtime.Stepwise;
import dev.stepwise.runtime.generate.GenerationConfig;
import java.nio.file.Path;

/** Opens an exported (or quantized, or unrolled) folder and streams a greedy continuation of a prompt to stdout. */
public final class StreamText {
    public static void main(String[] args) {
        Path folder = Path.of(args.length > 0 ? args[0] : "target/exported");
        String prompt = args.length > 1 ? args[1] : "def ";
        try (LanguageModel model = Stepwise.open(folder)) {
            GenerationConfig greedy = model.settings().maxNewTokens(40).build(model.encode(prompt).length);
            System.out.print(prompt);
            String text = model.generate(prompt, greedy, piece -> {
                System.out.print(piece);
                System.out.flush();
            });
            System.out.println();
            if (text.isEmpty()) {
                throw new IllegalStateException("nothing was generated from " + folder);
            }
        }
    }
}
