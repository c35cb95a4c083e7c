package dev.stepwise.models;

import java.nio.file.Files;
import java.nio.file.Path;

/** The shared read-only fixtures beside the project ({@code ../shared/fixtures}). */
final class Fixtures {
    private Fixtures() {
    }

    /** The project's top folder (where {@code ./stepwise} lives). */
    static Path projectRoot() {
        String root = System.getProperty("stepwise.root");
        return root != null ? Path.of(root) : Path.of("").toAbsolutePath().getParent();
    }

    static Path root() {
        Path fixtures = projectRoot().resolve("../shared/fixtures").normalize();
        if (!Files.isDirectory(fixtures)) {
            throw new IllegalStateException("fixtures not found at " + fixtures);
        }
        return fixtures;
    }

    static Path path(String relative) {
        return root().resolve(relative);
    }
}
