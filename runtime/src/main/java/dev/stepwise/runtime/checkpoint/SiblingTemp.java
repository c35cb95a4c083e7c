package dev.stepwise.runtime.checkpoint;

import java.io.IOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Hidden temporary files and folders beside a target, so the finished result can be renamed into place on the same
 * file system. Unlike {@code Files.createTemp*}, these get the usual permissions (umask) rather than owner-only ones,
 * because they become the user's output.
 */
final class SiblingTemp {
    private SiblingTemp() {
    }

    static Path newFile(Path target) throws IOException {
        while (true) {
            try {
                return Files.createFile(candidate(target));
            } catch (FileAlreadyExistsException e) {
                // another writer picked the same name; draw again
            }
        }
    }

    static Path newDirectory(Path target) throws IOException {
        while (true) {
            try {
                return Files.createDirectory(candidate(target));
            } catch (FileAlreadyExistsException e) {
                // another writer picked the same name; draw again
            }
        }
    }

    private static Path candidate(Path target) {
        Path absolute = target.toAbsolutePath();
        String suffix = Long.toHexString(ThreadLocalRandom.current().nextLong() & Long.MAX_VALUE);
        return absolute.resolveSibling("." + absolute.getFileName() + ".partial-" + suffix);
    }
}
