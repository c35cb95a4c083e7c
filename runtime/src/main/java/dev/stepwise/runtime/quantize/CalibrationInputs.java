package dev.stepwise.runtime.quantize;

import java.nio.file.Path;
import java.util.List;

/**
 * The calibration inputs of {@code --mode int8-static}: {@code --calibration FILE} (one prompt, or one row of
 * whitespace-separated token ids, per line; prompts are tokenized with the model folder's {@code tokenizer.json}) or a
 * built-in set of Python and English passages, apart from the quality gate's evaluation set so that the gate does not
 * measure on what the scales were fitted to.
 */
final class CalibrationInputs {
    static final List<String> BUILT_IN = List.of(
            "def merge_sorted(left, right):\n    result = []\n    i = j = 0\n    while i < len(left) and j < len(right):\n"
                    + "        if left[i] <= right[j]:\n            result.append(left[i])\n            i += 1\n",
            "import json\n\n\ndef load_settings(path, defaults=None):\n    settings = dict(defaults or {})\n"
                    + "    with open(path, encoding='utf-8') as handle:\n        settings.update(json.load(handle))\n"
                    + "    return settings\n",
            "class Counter:\n    def __init__(self, start=0):\n        self.value = start\n\n    def increment(self, step=1):\n"
                    + "        self.value += step\n        return self.value\n\n    def reset(self):\n        self.value = 0\n",
            "def find_duplicates(items):\n    seen = set()\n    duplicates = []\n    for item in items:\n"
                    + "        if item in seen:\n            duplicates.append(item)\n        else:\n            seen.add(item)\n"
                    + "    return duplicates\n",
            "for line in open(log_file):\n    fields = line.rstrip('\\n').split(',')\n    if len(fields) < 3:\n"
                    + "        continue\n    name, count, total = fields[0], int(fields[1]), float(fields[2])\n",
            "def fibonacci(n):\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a\n\n\n"
                    + "if __name__ == '__main__':\n    print(fibonacci(10))\n",
            "The library opens at nine in the morning and closes at six in the evening, except on Sundays, when it is closed.",
            "After the rain stopped, the children ran outside to play in the puddles while their parents made dinner.");

    private CalibrationInputs() {
    }

    /** Id rows from {@code file}, or the built-in set when it is null. */
    static List<long[]> rows(Path file, Path tokenizerDir) {
        return EvalInputs.rows(file, "--calibration", BUILT_IN, tokenizerDir);
    }
}
