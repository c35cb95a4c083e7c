package dev.stepwise.runtime.quantize;

import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.generate.TextTokenizer;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.regex.Pattern;

/**
 * The quality gate's inputs: token-id rows, from a file (one prompt or one row of whitespace-separated ids per line;
 * prompts are tokenized with the model folder's {@code tokenizer.json}) or from a built-in set: short Python and
 * English passages for decoders (written for this check, so no model was trained on them), everyday sentences for
 * encoders.
 */
public final class EvalInputs {
    private static final Pattern ID_ROW = Pattern.compile("\\s*\\d+(\\s+\\d+)*\\s*");

    /** Built-in decoder prompts: code, which peaked models predict confidently, and a little prose. */
    static final List<String> DECODER_PROMPTS = List.of(
            "def moving_average(values, window):\n    \"\"\"Return the averages of each run of `window` values.\"\"\"\n"
                    + "    if window <= 0:\n        raise ValueError(\"window must be positive\")\n    total = 0\n",
            "import os\nimport sys\n\n\ndef list_files(root):\n    result = []\n    for name in sorted(os.listdir(root)):\n"
                    + "        path = os.path.join(root, name)\n        if os.path.isfile(path):\n",
            "class Stack:\n    def __init__(self):\n        self._items = []\n\n    def push(self, item):\n"
                    + "        self._items.append(item)\n\n    def pop(self):\n        return self._items.pop()\n",
            "def parse_header(line):\n    key, sep, value = line.partition(':')\n    if not sep:\n"
                    + "        return None\n    return key.strip().lower(), value.strip()\n",
            "    for index, item in enumerate(items):\n        if item is None:\n            continue\n"
                    + "        if isinstance(item, str):\n            item = item.encode('utf-8')\n",
            "try:\n    with open(filename, 'rb') as f:\n        data = f.read()\nexcept OSError as e:\n"
                    + "    print('cannot read %s: %s' % (filename, e), file=sys.stderr)\n",
            "The weather was cold and the streets were empty, so we stayed inside and read books by the fire.",
            "To install the package, download the archive, unpack it and run the setup script from its folder.");

    /** Built-in encoder inputs: everyday sentences, as sentence-embedding users feed them. */
    public static final List<String> SENTENCES = List.of(
            "The cat sits on the mat.", "A man is playing a guitar on the street.",
            "I would like to book a table for two tonight.", "The train to Berlin leaves at seven.",
            "She forgot her umbrella and got wet in the rain.", "How do I reset my password?",
            "The stock market fell sharply on Monday.", "Children are playing football in the park.",
            "This recipe needs two eggs and a cup of flour.", "The meeting has been moved to Thursday afternoon.",
            "My laptop battery drains too quickly.", "A quick brown fox jumps over the lazy dog.",
            "Please send me the report by Friday.", "The museum is closed on public holidays.",
            "He runs five kilometres every morning before work.", "Turn left at the second traffic light.");

    private EvalInputs() {
    }

    /**
     * Id rows for a model of {@code kind} ({@code decoder} or {@code encoder}); {@code tokenizerDir} holds the
     * tokenizer for prompts (null when there is none).
     */
    static List<long[]> rows(Path file, String kind, Path tokenizerDir) {
        return rows(file, "--eval", kind.equals("encoder") ? SENTENCES : DECODER_PROMPTS, tokenizerDir);
    }

    /** As above, for the inputs of option {@code flag} (named in errors), {@code builtIn} when {@code file} is null. */
    static List<long[]> rows(Path file, String flag, List<String> builtIn, Path tokenizerDir) {
        List<String> lines;
        if (file == null) {
            lines = builtIn;
        } else {
            try {
                String text = Files.readString(file, StandardCharsets.UTF_8);
                lines = Arrays.stream(text.split("\n")).filter(l -> !l.isBlank()).map(l -> l.replace("\\n", "\n")).toList();
            } catch (NoSuchFileException e) {
                throw new StepwiseException(flag + " " + file + ": no such file");
            } catch (IOException e) {
                throw new StepwiseException(flag + " " + file + ": cannot read: " + e.getMessage(), e);
            }
            if (lines.isEmpty()) {
                throw new StepwiseException(flag + " " + file + ": no inputs (one prompt or id row per line)");
            }
        }
        List<long[]> rows = new ArrayList<>();
        TextTokenizer tokenizer = null;
        try {
            for (String line : lines) {
                if (ID_ROW.matcher(line).matches()) {
                    rows.add(Arrays.stream(line.trim().split("\\s+")).mapToLong(Long::parseLong).toArray());
                    continue;
                }
                if (tokenizer == null) {
                    if (tokenizerDir == null || !Files.isRegularFile(tokenizerDir.resolve("tokenizer.json"))) {
                        throw new StepwiseException((tokenizerDir == null ? "the model" : tokenizerDir.toString())
                                + ": no tokenizer.json to tokenize the evaluation prompts; pass --eval with rows of"
                                + " token ids, or --no-gate");
                    }
                    tokenizer = TextTokenizer.open(tokenizerDir);
                }
                rows.add(tokenizer.encode(line));
            }
        } finally {
            if (tokenizer != null) {
                tokenizer.close();
            }
        }
        return rows;
    }
}
