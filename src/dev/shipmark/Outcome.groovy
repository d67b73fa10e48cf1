package dev.shipmark

import com.cloudbees.groovy.cps.NonCPS

/**
 * What one `shipmark ... --json` run ended with: its exit status and its parsed JSON document.
 *
 * Maps the helper's exit codes (docs/cli-contract.md) to what a step does with them: 0 is success,
 * 3 is a policy refusal or "nothing eligible" that each step turns into its documented outcome, and
 * everything else fails the step with shipmark's own message. Calls no pipeline steps.
 */
class Outcome implements Serializable {

    private static final long serialVersionUID = 1L

    static final int OK = 0
    static final int UNEXPECTED = 1
    static final int BAD_INPUT = 2
    static final int REFUSED = 3
    static final int NOT_FOUND = 4
    static final int REMOTE = 5

    private static final Map<Integer, String> MEANINGS = [
        1  : 'unexpected error in shipmark (a bug)',
        2  : 'bad input',
        3  : 'policy not satisfied',
        4  : 'not found',
        5  : 'registry, Jenkins, auth or network error',
        126: 'the shipmark helper is not executable',
        127: 'the shipmark helper was not found',
        130: 'interrupted',
    ]

    final int status
    /** The parsed `--json` document, or null when the helper printed none. */
    final Map json

    Outcome(int status, Map json) {
        this.status = status
        this.json = json
    }

    @NonCPS
    boolean isOk() {
        return status == OK
    }

    @NonCPS
    boolean isRefused() {
        return status == REFUSED
    }

    /** shipmark's `error.message`, else a sentence built from the exit status. */
    @NonCPS
    String getMessage() {
        Map error = errorDocument()
        if (error && error.message) {
            return error.message.toString()
        }
        String meaning = MEANINGS[status] ?: 'failed'
        return "shipmark exited with status ${status} (${meaning}) and printed no JSON error; see the log above".toString()
    }

    @NonCPS
    String getHint() {
        Map error = errorDocument()
        return error && error.hint ? error.hint.toString() : null
    }

    /** Policy reasons: `error.reasons` on a refusal, the top-level `reasons` otherwise. */
    @NonCPS
    List<String> getReasons() {
        Map error = errorDocument()
        Object reasons = error?.reasons
        if (reasons == null && json != null) {
            reasons = json.reasons
        }
        return reasons instanceof Collection ? reasons.collect { Object reason -> reason.toString() } : []
    }

    /** The message a step passes to `error(...)`: "step: message", then the hint on its own line. */
    @NonCPS
    String failure(String step) {
        String text = "${step}: ${message}"
        if (hint) {
            text += "\nhint: ${hint}"
        }
        return text.toString()
    }

    /** "step: why; why" for a refusal, listing the policy's reasons. */
    @NonCPS
    String refusal(String step, String what) {
        List<String> why = reasons
        String text = "${step}: ${what}"
        if (why) {
            text += ': ' + why.join('; ')
        } else if (errorDocument()?.message) {
            text += ': ' + message
        }
        return text.toString()
    }

    @NonCPS
    private Map errorDocument() {
        Object error = json?.error
        return error instanceof Map ? (Map) error : null
    }
}
