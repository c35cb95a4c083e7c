package dev.stepwise.processor;

import com.squareup.javapoet.ClassName;

/**
 * Runtime types the generated code refers to, by name only: the processor must not depend on the runtime module
 * (it would drag the whole runtime onto every user's annotation-processor path). Where a name is needed as text
 * (a service file, a supertype compared by name), it is the {@link ClassName}'s.
 */
final class RuntimeTypes {
    private static final String MODEL = "dev.stepwise.runtime.model";
    private static final String EXPORT = "dev.stepwise.runtime.export";
    private static final String TENSOR = "dev.stepwise.runtime.tensor";

    static final ClassName ARCHITECTURE = ClassName.get(MODEL, "Architecture");
    static final ClassName ARCHITECTURE_SPEC = ClassName.get(MODEL, "ArchitectureSpec");
    static final ClassName CACHE_DECL = ClassName.get(MODEL, "CacheDecl");
    static final ClassName CAUSAL_LM = ClassName.get(MODEL, "CausalLm");
    static final ClassName CONFIG_KEY_MAP = ClassName.get(MODEL, "ConfigKeyMap");
    static final ClassName MODEL_CONFIG = ClassName.get(MODEL, "ModelConfig");
    static final ClassName TENSOR_DECL = ClassName.get(MODEL, "TensorDecl");
    static final ClassName ENCODER_ARCHITECTURE = ClassName.get(MODEL, "EncoderArchitecture");
    static final ClassName ENCODER_MODEL = ClassName.get(MODEL, "EncoderModel");
    static final ClassName ENCODER_SPEC = ClassName.get(MODEL, "EncoderSpec");
    static final ClassName ENCODER_EXPORTER = ClassName.get(EXPORT, "EncoderExporter");
    static final ClassName SEQ2SEQ_ARCHITECTURE = ClassName.get(MODEL, "Seq2SeqArchitecture");
    static final ClassName SEQ2SEQ_LM = ClassName.get(MODEL, "Seq2SeqLm");
    static final ClassName SEQ2SEQ_SPEC = ClassName.get(MODEL, "Seq2SeqSpec");
    static final ClassName SEQ2SEQ_EXPORTER = ClassName.get(EXPORT, "Seq2SeqExporter");

    static final ClassName DUMMY_INPUTS = ClassName.get(EXPORT, "DummyInputs");
    static final ClassName DUMMY_TENSORS = ClassName.get(EXPORT, "DummyTensors");
    static final ClassName EXPORTER = ClassName.get(EXPORT, "Exporter");
    static final ClassName EXPORT_OPTIONS = ClassName.get(EXPORT, "ExportOptions");
    static final ClassName EXPORT_RESULT = ClassName.get(EXPORT, "ExportResult");

    static final ClassName HOST_TENSOR = ClassName.get(TENSOR, "HostTensor");

    private RuntimeTypes() {
    }
}
