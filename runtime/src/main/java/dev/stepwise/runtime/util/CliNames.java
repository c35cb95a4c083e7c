package dev.stepwise.runtime.util;

import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * Enum constants by the names the command line gives them: the constant's name lower-cased, {@code _} written
 * {@code -} ({@code BEAM_SEARCH} is {@code beam-search}).
 */
public final class CliNames {
    private CliNames() {
    }

    /**
     * The command-line name of a constant.
     *
     * @param constant any enum constant
     * @return for example {@code int8-static} for {@code INT8_STATIC}
     */
    public static String of(Enum<?> constant) {
        return constant.name().toLowerCase(Locale.ROOT).replace('_', '-');
    }

    /**
     * The constant a command line names.
     *
     * @param type the enum
     * @param name a command-line name, exactly as {@link #of} spells it
     * @param <E>  the enum
     * @return the constant, or empty when no constant has that name
     */
    public static <E extends Enum<E>> Optional<E> find(Class<E> type, String name) {
        return Arrays.stream(type.getEnumConstants()).filter(c -> of(c).equals(name)).findFirst();
    }

    /**
     * The constant a command line names, or a one-line error listing the choices.
     *
     * @param type the enum
     * @param what what the constants are, for the message ({@code pooling})
     * @param name a command-line name
     * @param <E>  the enum
     * @return the constant
     * @throws IllegalArgumentException {@link #unknown} for a name that is no constant's
     */
    public static <E extends Enum<E>> E parse(Class<E> type, String what, String name) {
        return find(type, name).orElseThrow(() -> unknown(type, what, name));
    }

    /**
     * The error for a name that is no constant's.
     *
     * @param type the enum
     * @param what what the constants are
     * @param name the name as given
     * @return {@code unknown pooling 'max' (expected mean, cls or none)}
     */
    public static IllegalArgumentException unknown(Class<? extends Enum<?>> type, String what, String name) {
        return new IllegalArgumentException("unknown " + what + " '" + name + "' (expected " + choices(type) + ")");
    }

    /**
     * The command-line names of an enum's constants, in declaration order, for messages.
     *
     * @param type the enum
     * @return for example {@code mean, cls or none}
     */
    public static String choices(Class<? extends Enum<?>> type) {
        List<String> names = Arrays.stream(type.getEnumConstants()).map(CliNames::of).toList();
        int last = names.size() - 1;
        return last == 0 ? names.get(0) : String.join(", ", names.subList(0, last)) + " or " + names.get(last);
    }
}
