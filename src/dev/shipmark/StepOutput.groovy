package dev.shipmark

import com.cloudbees.groovy.cps.NonCPS

/**
 * Reads what run-shipmark.sh prints in step mode: "shipmark-step STAGE STATUS", the helper's
 * path, then the command's JSON. STAGE is `command` when the command ran and `helper` when no
 * helper could be found or installed. Calls no pipeline steps.
 */
class StepOutput {

    static final String MARKER = 'shipmark-step '

    /** [stage: 'command' | 'helper' | 'unknown', status: int, helper: String, json: String]. */
    @NonCPS
    static Map parse(Object printed) {
        String text = printed == null ? '' : printed.toString()
        int start = text.indexOf(MARKER)
        if (start < 0) {
            return [stage: 'unknown', status: -1, helper: '', json: '']
        }
        text = text.substring(start + MARKER.length())
        int first = text.indexOf('\n')
        String header = first < 0 ? text : text.substring(0, first)
        String rest = first < 0 ? '' : text.substring(first + 1)
        int second = rest.indexOf('\n')
        String path = second < 0 ? rest : rest.substring(0, second)
        String json = second < 0 ? '' : rest.substring(second + 1)
        List<String> words = header.trim().tokenize(' ')
        String stage = words ? words[0] : 'unknown'
        String status = words.size() > 1 ? words[1] : ''
        return [stage : stage, status: status.isInteger() ? status.toInteger() : -1,
                helper: path.trim(), json: json]
    }

    @NonCPS
    static String firstLine(String text) {
        String trimmed = text.trim()
        int end = trimmed.indexOf('\n')
        String line = end < 0 ? trimmed : trimmed.substring(0, end)
        return line.length() > 200 ? line.substring(0, 200) + '...' : line
    }
}
