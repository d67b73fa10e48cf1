package dev.shipmark

import com.cloudbees.groovy.cps.NonCPS

/**
 * Checks the named arguments of a step against its defaults map.
 *
 * Pipeline-library's `defaults << args` accepts any typo silently; here an unknown key, a
 * missing required value or a value of the wrong kind is a one-line message that names the step
 * and lists what is valid. The step turns the message into `error(...)`, so the build fails
 * without a stack trace. Calls no pipeline steps.
 */
class StepArgs implements Serializable {

    private static final long serialVersionUID = 1L

    /**
     * Returns null when the arguments are fine, else a message such as
     * "promoteImage: unknown argument 'imgae'; valid arguments: image, to, ...".
     *
     * A key is checked against the type of its default: a Boolean default takes only true or false,
     * a List default takes a list (or a single string), a Map default a map, a String default a
     * string. Keys whose default is null take a string (or, for the names in {@code flexible}, anything).
     */
    @NonCPS
    static String check(Map defaults, Map args, String step, List<String> required = [], List<String> flexible = []) {
        Map given = args == null ? [:] : args
        List<String> unknown = given.keySet().collect { Object key -> key.toString() }.findAll { String key -> !defaults.containsKey(key) }
        if (unknown) {
            String keys = unknown.collect { String key -> "'${key}'" }.join(', ')
            String noun = unknown.size() == 1 ? 'argument' : 'arguments'
            return "${step}: unknown ${noun} ${keys}; valid arguments: ${defaults.keySet().join(', ')}".toString()
        }
        Map merged = defaults + given
        for (String key : required) {
            if (isBlank(merged[key])) {
                return "${step}: the '${key}' argument is required".toString()
            }
        }
        for (Map.Entry entry : given.entrySet()) {
            String key = entry.key.toString()
            String problem = kindProblem(defaults[key], entry.value, flexible.contains(key))
            if (problem) {
                return "${step}: '${key}' ${problem}".toString()
            }
        }
        return null
    }

    /** True for null, an empty or all-blank string, and an empty collection or map. */
    @NonCPS
    static boolean isBlank(Object value) {
        if (value == null) {
            return true
        }
        if (value instanceof CharSequence) {
            return value.toString().trim().isEmpty()
        }
        if (value instanceof Collection || value instanceof Map) {
            return value.isEmpty()
        }
        return false
    }

    @NonCPS
    private static String kindProblem(Object defaultValue, Object value, boolean flexible) {
        if (value == null || flexible) {
            return null
        }
        if (defaultValue instanceof Boolean) {
            return value instanceof Boolean ? null : "must be true or false, got ${describe(value)}"
        }
        if (defaultValue instanceof Collection) {
            if (value instanceof CharSequence) {
                return null
            }
            if (!(value instanceof Collection)) {
                return "must be a list of strings, got ${describe(value)}"
            }
            return value.every { Object item -> item instanceof CharSequence } ? null : "must be a list of strings, got ${describe(value)}"
        }
        if (defaultValue instanceof Map) {
            return value instanceof Map ? null : "must be a map, got ${describe(value)}"
        }
        if (value instanceof CharSequence || value instanceof Number) {
            return null
        }
        return "must be a string, got ${describe(value)}"
    }

    @NonCPS
    private static String describe(Object value) {
        if (value instanceof CharSequence) {
            return "the string '${value}'"
        }
        if (value instanceof Collection) {
            return 'a list'
        }
        if (value instanceof Map) {
            return 'a map'
        }
        if (value instanceof Boolean) {
            return "the boolean ${value}"
        }
        if (value instanceof Number) {
            return "the number ${value}"
        }
        return "a ${value.getClass().simpleName}"
    }
}
