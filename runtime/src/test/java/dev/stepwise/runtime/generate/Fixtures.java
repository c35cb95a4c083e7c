package dev.stepwise.runtime.generate;

import java.nio.file.Path;

/** Finds the shared, read-only test fixtures ({@code ../shared/fixtures} beside the project root). */
final class Fixtures {
    private Fixtures() {
    }

    static Path path(String relative) {
        // Surefire sets stepwise.root to the project root; an IDE run from the module folder falls back to its parent.
        String root = System.getProperty("stepwise.root");
        Path base = root != null && !root.isBlank() ? Path.of(root) : Path.of("").toAbsolutePath().getParent();
        return base.resolve("../shared/fixtures").resolve(relative).normalize();
    }
}
