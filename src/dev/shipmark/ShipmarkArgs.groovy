package dev.shipmark

import com.cloudbees.groovy.cps.NonCPS
import groovy.json.JsonOutput

/**
 * The argument list of one `shipmark` command, written to a JSON file for `--args-file`.
 *
 * Options become single strings `--name=value`, so a value that starts with `-` stays a value;
 * positionals go after `--`. Nothing here is ever joined into a shell command line: the file is
 * the only way these values reach the helper. Calls no pipeline steps.
 */
class ShipmarkArgs implements Serializable {

    private static final long serialVersionUID = 1L

    private final List<String> options = []
    private final List<String> positionals = []

    /** `--name=value`; skipped when value is null. */
    @NonCPS
    ShipmarkArgs option(String name, Object value) {
        if (value != null) {
            options << "--${name}=${value}".toString()
        }
        return this
    }

    /** One `--name=value` per element; a single string counts as a one-element list. */
    @NonCPS
    ShipmarkArgs options(String name, Object values) {
        if (values instanceof CharSequence) {
            return option(name, values)
        }
        for (Object value : (values ?: [])) {
            option(name, value)
        }
        return this
    }

    /** `--name` when on is true. */
    @NonCPS
    ShipmarkArgs flag(String name, Object on) {
        if (on) {
            options << "--${name}".toString()
        }
        return this
    }

    @NonCPS
    ShipmarkArgs positional(Object value) {
        if (value != null) {
            positionals << value.toString()
        }
        return this
    }

    @NonCPS
    List<String> toList() {
        List<String> argv = new ArrayList<String>(options)
        if (positionals) {
            argv << '--'
            argv.addAll(positionals)
        }
        return argv
    }

    @NonCPS
    String toJson() {
        return json(toList())
    }

    /**
     * A list of strings as a JSON array. Script-security blacklists `JsonOutput.toJson(Object)`
     * (SECURITY-538), which is what `toJson(List)` resolves to, so each element goes through the
     * whitelisted `toJson(String)` instead.
     */
    @NonCPS
    static String json(List<String> values) {
        List<String> items = []
        for (Object value : values) {
            items.add(JsonOutput.toJson(value.toString()))
        }
        return '[' + items.join(',') + ']'
    }
}
