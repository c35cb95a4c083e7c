package dev.stepwise.cli;

import java.nio.file.Path;
import picocli.CommandLine.Option;

/** {@code --model} of the commands that read a Hugging Face checkpoint (export, unroll): a folder or a cached model id. */
final class CheckpointOption {
    @Option(names = "--model", required = true, paramLabel = "HF_CHECKPOINT_DIR|ORG/NAME[@REV]",
            description = "Checkpoint folder (config.json + safetensors), or a model id in the local Hugging Face cache.")
    Path model;

    /** The checkpoint folder ({@link Main#locateModel}: a path as is, else from the local Hugging Face cache). */
    Path locate(Main main) {
        return main.locateModel(model);
    }
}
