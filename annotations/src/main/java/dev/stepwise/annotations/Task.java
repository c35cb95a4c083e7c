package dev.stepwise.annotations;

/** The export tasks an architecture supports, named as optimum names them. */
public enum Task {
    /** Logits only: no past inputs, no present outputs. */
    TEXT_GENERATION("text-generation"),
    /** The KV-cache decoder: past inputs and present outputs; an empty past is prefill. */
    TEXT_GENERATION_WITH_PAST("text-generation-with-past");

    private final String cliName;

    Task(String cliName) {
        this.cliName = cliName;
    }

    /**
     * The task's name as optimum and the command line spell it.
     *
     * @return {@code text-generation} or {@code text-generation-with-past}
     */
    public String cliName() {
        return cliName;
    }

    /**
     * The task a command line names.
     *
     * @param name {@code text-generation} or {@code text-generation-with-past}
     * @return the task
     * @throws IllegalArgumentException naming the choices, for any other name
     */
    public static Task fromCliName(String name) {
        for (Task t : values()) {
            if (t.cliName.equals(name)) {
                return t;
            }
        }
        throw new IllegalArgumentException("unknown task '" + name + "' (expected text-generation or text-generation-with-past)");
    }
}
