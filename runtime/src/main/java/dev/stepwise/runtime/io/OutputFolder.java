package dev.stepwise.runtime.io;

import dev.stepwise.runtime.StepwiseException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.LinkedHashSet;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * An output folder that appears only when complete: work goes into a hidden temporary folder beside the target,
 * {@link #commit()} moves it into place (replacing an earlier result), and closing without commit deletes it. So a
 * failed export, a failed validation or a crash never leaves a half-written model where the user looks.
 *
 * <p>Every hidden folder beside a target is named {@code .<name>.<kind>-<pid>-<random>} ({@link #TEMP}, {@link #OLD},
 * {@link #SCRATCH}), the pid being this process's. Ctrl-C (SIGINT, SIGTERM) runs a shutdown hook that deletes the ones
 * this process still has open; after a SIGKILL, the next {@link #create} beside the same target removes those whose
 * process is gone (and never anything not named so).
 */
public final class OutputFolder implements AutoCloseable {
    static final String TEMP = "tmp";
    static final String OLD = "old";
    static final String SCRATCH = "float";

    private static final Object LOCK = new Object();
    /** Hidden folders this process owns and the shutdown hook deletes; guarded by {@link #LOCK}. */
    private static final Set<Path> OPEN = new LinkedHashSet<>();
    private static boolean hookInstalled;
    private static boolean shuttingDown;

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
        try {
            Files.createDirectories(absolute.getParent());
            cleanStale(absolute);
            Path work = newHidden(absolute, TEMP);
            return new OutputFolder(absolute, work);
        } catch (IOException e) {
            throw new StepwiseException(target + ": cannot create a working folder beside it: " + e.getMessage(), e);
        }
    }

    /**
     * A hidden folder beside {@code target} for intermediate results ({@code export --quantize} writes its float
     * folder in one): deleted by the shutdown hook, or after a SIGKILL by the next run, like a temporary folder. The
     * caller deletes it with {@link #release}.
     */
    public static Path scratch(Path target) {
        Path absolute = target.toAbsolutePath().normalize();
        try {
            Files.createDirectories(absolute.getParent());
            cleanStale(absolute);
            return newHidden(absolute, SCRATCH);
        } catch (IOException e) {
            throw new StepwiseException(target + ": cannot create a working folder beside it: " + e.getMessage(), e);
        }
    }

    /** Deletes a folder from {@link #scratch} and forgets it. */
    public static void release(Path scratch) {
        synchronized (LOCK) {
            OPEN.remove(scratch);
        }
        deleteQuietly(scratch);
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

    /**
     * Moves the finished folder into place. An existing folder at the target is first moved aside to a hidden name,
     * then the new one moved in, then the old one deleted: a crash in between leaves the old or the new folder complete
     * and a hidden one the next run removes (or, if only the old one survived, moves back).
     */
    public void commit() {
        Path old = null;
        synchronized (LOCK) {
            if (shuttingDown) {
                throw new StepwiseException(target + ": interrupted; nothing written");
            }
            try {
                if (Files.exists(target)) {
                    old = hiddenName(target, OLD);
                    Files.move(target, old, StandardCopyOption.ATOMIC_MOVE);
                    OPEN.add(old);
                }
                moveIntoPlace();
                OPEN.remove(work);
                committed = true;
            } catch (IOException e) {
                throw new StepwiseException(target + ": cannot move the result into place: " + e.getMessage(), e);
            }
        }
        if (old != null) {
            release(old);
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
            release(work);
        }
    }

    /**
     * {@code file} as the user will know it: a path inside an open temporary folder is shown inside its target (the
     * hidden name means nothing to the user, and it is gone by the time they read the message).
     */
    public static Path shown(Path file) {
        Path absolute = file.toAbsolutePath().normalize();
        synchronized (LOCK) {
            for (Path open : OPEN) {
                if (absolute.startsWith(open)) {
                    Matcher m = HIDDEN.matcher(open.getFileName().toString());
                    if (m.matches()) {
                        return open.resolveSibling(m.group(1)).resolve(open.relativize(absolute));
                    }
                }
            }
        }
        return file;
    }

    /**
     * The error for a failed write of {@code file}: a full disk is {@code <file>: no space left on device}, anything
     * else {@code cannot <doing> <file>: <reason>}; the file is {@linkplain #shown shown} in its target.
     */
    public static StepwiseException writeFailure(String doing, Path file, IOException e) {
        if (isNoSpace(e)) {
            return new StepwiseException(shown(file) + ": no space left on device; nothing written", e);
        }
        return new StepwiseException("cannot " + doing + " " + shown(file) + ": " + e.getMessage(), e);
    }

    /** Whether {@code e} or a cause is the operating system's "No space left on device" (ENOSPC). */
    public static boolean isNoSpace(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof IOException && t.getMessage() != null && t.getMessage().contains("No space left on device")) {
                return true;
            }
        }
        return false;
    }

    /** {@code .<name>.<kind>-<pid>-<random>}: group 1 the target's name, 2 the kind, 3 the pid. */
    private static final Pattern HIDDEN = Pattern.compile("\\.(.+)\\.(" + TEMP + "|" + OLD + "|" + SCRATCH
            + ")-(\\d{1,19})-[0-9a-f]{1,16}");

    private static Path hiddenName(Path target, String kind) {
        String random = Long.toHexString(ThreadLocalRandom.current().nextLong() & Long.MAX_VALUE);
        return target.resolveSibling("." + target.getFileName() + "." + kind + "-" + ProcessHandle.current().pid()
                + "-" + random);
    }

    /** Creates a hidden folder beside {@code target}, registered for the shutdown hook before it exists. */
    private static Path newHidden(Path target, String kind) throws IOException {
        installHook();
        while (true) {
            Path dir = hiddenName(target, kind);
            synchronized (LOCK) {
                if (shuttingDown) {
                    throw new StepwiseException(target + ": interrupted; nothing written");
                }
                OPEN.add(dir);
            }
            try {
                // Files.createDirectory gives the usual permissions (umask), unlike Files.createTempDirectory
                return Files.createDirectory(dir);
            } catch (FileAlreadyExistsException e) {
                synchronized (LOCK) {
                    OPEN.remove(dir);
                }
            } catch (IOException | RuntimeException e) {
                synchronized (LOCK) {
                    OPEN.remove(dir);
                }
                throw e;
            }
        }
    }

    /**
     * Removes the hidden folders beside {@code target} left by processes that are gone; an old result moved aside
     * whose replacement never arrived is moved back instead. Folders of live processes (a concurrent run) and anything
     * not named like ours are left alone.
     */
    static void cleanStale(Path target) throws IOException {
        String name = target.getFileName().toString();
        try (DirectoryStream<Path> siblings = Files.newDirectoryStream(target.getParent(),
                "." + escapeGlob(name) + ".*")) {
            for (Path p : siblings) {
                Matcher m = HIDDEN.matcher(p.getFileName().toString());
                if (!m.matches() || !m.group(1).equals(name) || !Files.isDirectory(p)) {
                    continue;
                }
                long pid;
                try {
                    pid = Long.parseLong(m.group(3));
                } catch (NumberFormatException e) {
                    continue;
                }
                if (ProcessHandle.of(pid).isPresent()) {
                    continue;
                }
                if (m.group(2).equals(OLD) && !Files.exists(target)) {
                    try {
                        Files.move(p, target, StandardCopyOption.ATOMIC_MOVE);
                        continue;
                    } catch (IOException e) {
                        // someone else restored it first, or the move failed: fall through and delete it
                    }
                }
                deleteQuietly(p);
            }
        }
    }

    private static String escapeGlob(String s) {
        return s.replaceAll("([\\\\*?\\[\\]{},])", "\\\\$1");
    }

    private static void installHook() {
        synchronized (LOCK) {
            if (hookInstalled) {
                return;
            }
            hookInstalled = true;
        }
        Runtime.getRuntime().addShutdownHook(new Thread(OutputFolder::onShutdown, "stepwise-output-cleanup"));
    }

    /** Ctrl-C or SIGTERM: the open hidden folders go; a commit in progress finishes first (it holds the lock). */
    private static void onShutdown() {
        synchronized (LOCK) {
            shuttingDown = true;
            for (Path p : OPEN) {
                deleteQuietly(p);
            }
            OPEN.clear();
        }
    }

    /**
     * Deletes {@code dir} as far as it can, tolerating files that vanish or appear meanwhile (the hook runs while the
     * writer may still be writing); a few passes, then gives up: a leftover is named with this pid and cleaned later.
     */
    static void deleteQuietly(Path dir) {
        for (int pass = 0; pass < 5 && Files.exists(dir); pass++) {
            try {
                deleteRecursively(dir);
            } catch (UncheckedIOException e) {
                // a file appeared or vanished during the walk; try again
            }
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
                    Files.deleteIfExists(file);
                    return FileVisitResult.CONTINUE;
                }

                @Override
                public FileVisitResult visitFileFailed(Path file, IOException exc) throws IOException {
                    if (exc instanceof NoSuchFileException) {
                        return FileVisitResult.CONTINUE;
                    }
                    throw exc;
                }

                @Override
                public FileVisitResult postVisitDirectory(Path d, IOException exc) throws IOException {
                    Files.deleteIfExists(d);
                    return FileVisitResult.CONTINUE;
                }
            });
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
