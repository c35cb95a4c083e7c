package dev.stepwise.runtime.io;

import dev.stepwise.runtime.StepwiseException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;

/**
 * An output folder that appears only when complete: work goes into a hidden temporary folder beside the target,
 * {@link #commit()} moves it into place (replacing an earlier result), and closing without commit deletes it. So a
 * failed export, a failed validation or a crash never leaves a half-written model where the user looks.
 */
public final class OutputFolder implements AutoCloseable {
    private final Path target;
    private final Path work;
    private boolean committed;

    private OutputFolder(Path target, Path work) {
        this.target = target;
        this.work = work;
    }

    public static OutputFolder create(Path target) {
        Path absolute = target.toAbsolutePath().normalize();
        if (Files.exists(absolute) && !Files.isDirectory(absolute)) {
            throw new StepwiseException(target + ": exists and is not a folder");
        }
        Path parent = absolute.getParent();
        try {
            Files.createDirectories(parent);
            Path work = Files.createTempDirectory(parent, "." + absolute.getFileName() + ".tmp-");
            makeOrdinary(work);
            return new OutputFolder(absolute, work);
        } catch (IOException e) {
            throw new StepwiseException(target + ": cannot create a working folder beside it: " + e.getMessage(), e);
        }
    }

    /** Temporary folders are created owner-only; the finished result should read like any folder the user makes. */
    private static void makeOrdinary(Path dir) throws IOException {
        if (dir.getFileSystem().supportedFileAttributeViews().contains("posix")) {
            Files.setPosixFilePermissions(dir, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
        }
    }

    /** Copies a file in and leaves it writable by the owner (fixtures and read-only sources stay read-only). */
    public static void copyInto(Path source, Path target) throws IOException {
        Files.copy(source, target, StandardCopyOption.REPLACE_EXISTING);
        target.toFile().setWritable(true, true);
    }

    /** The temporary folder to write into. */
    public Path path() {
        return work;
    }

    public Path target() {
        return target;
    }

    /** Moves the finished folder into place; an existing folder at the target is replaced. */
    public void commit() {
        try {
            if (Files.exists(target)) {
                Path old = Files.createTempDirectory(target.getParent(), "." + target.getFileName() + ".old-");
                Files.delete(old);
                Files.move(target, old, StandardCopyOption.ATOMIC_MOVE);
                moveIntoPlace();
                deleteRecursively(old);
            } else {
                moveIntoPlace();
            }
            committed = true;
        } catch (IOException e) {
            throw new StepwiseException(target + ": cannot move the result into place: " + e.getMessage(), e);
        }
    }

    private void moveIntoPlace() throws IOException {
        try {
            Files.move(work, target, StandardCopyOption.ATOMIC_MOVE);
        } catch (AtomicMoveNotSupportedException | DirectoryNotEmptyException e) {
            Files.move(work, target);
        }
    }

    @Override
    public void close() {
        if (!committed) {
            deleteRecursively(work);
        }
    }

    public static void deleteRecursively(Path dir) {
        if (!Files.exists(dir)) {
            return;
        }
        try {
            Files.walkFileTree(dir, new SimpleFileVisitor<>() {
                @Override
                public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                    Files.delete(file);
                    return FileVisitResult.CONTINUE;
                }

                @Override
                public FileVisitResult postVisitDirectory(Path d, IOException exc) throws IOException {
                    Files.delete(d);
                    return FileVisitResult.CONTINUE;
                }
            });
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
