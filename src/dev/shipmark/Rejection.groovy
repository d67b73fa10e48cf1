package dev.shipmark

import com.cloudbees.groovy.cps.NonCPS

/**
 * What `shipmark reject --json` says about the channel tags still on the rejected image, in the
 * words of the rejectImage step: a log line per channel left to roll back, and the failure when
 * `rollback: true` could not roll one back. Calls no pipeline steps.
 */
class Rejection implements Serializable {

    private static final long serialVersionUID = 1L

    /** What became of the channel tags on the image, one line each: rolled back, or still there. */
    @NonCPS
    static String channelLines(Map json) {
        return (rolledBack(json) + stillTagged(json)).join('\n')
    }

    /** One line per channel whose tag still points at the image, with the command that rolls it back. */
    @NonCPS
    static List<String> stillTagged(Map json) {
        List<String> lines = []
        for (Map channel : channels(json)) {
            if (!channel.rolled_back) {
                lines << ("rejectImage: channel '${channel.channel}' still points at the rejected image; roll it back " +
                          "with rejectImage(..., rollback: true) or: ${channel.rollback_command}").toString()
            }
        }
        return lines
    }

    /** One line per channel that was rolled back: where it points now. */
    @NonCPS
    static List<String> rolledBack(Map json) {
        List<String> lines = []
        for (Object done : (json?.rollbacks ?: [])) {
            if (done instanceof Map) {
                lines << "rejectImage: rolled ${done.channel} back to ${done.to}".toString()
            }
        }
        return lines
    }

    /** The step's failure when channels kept their tag (exit 3): which, why, and what to do. */
    @NonCPS
    static String stuck(Map json) {
        List<String> why = []
        String hint = null
        for (Object entry : (json?.not_rolled_back ?: [])) {
            if (entry instanceof Map) {
                why << "${entry.channel}: ${entry.message}".toString()
                hint = hint ?: (entry.hint ? entry.hint.toString() : null)
            }
        }
        String text = "rejectImage: ${json?.image} is rejected, but could not roll back every channel that points at it: " +
            why.join('; ')
        return (hint ? "${text}\nhint: ${hint}" : text).toString()
    }

    @NonCPS
    private static List<Map> channels(Map json) {
        Object listed = json?.channels
        return listed instanceof Collection ? listed.findAll { Object c -> c instanceof Map } as List<Map> : []
    }
}
