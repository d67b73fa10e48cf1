package dev.shipmark

import com.cloudbees.groovy.cps.NonCPS

/**
 * The build description after recordImage: the user's own paragraphs stay as they are, and the
 * shipmark blocks (paragraphs that start with "shipmark: " in text, `<div class="shipmark"` in
 * HTML) are replaced by this build's blocks, which `shipmark record --out-dir` keeps in one file
 * for every image the build recorded. Paragraphs are separated by a blank line, as the helper
 * writes them and as the Python side of the Jenkins sync reads them. Calls no pipeline steps.
 */
class Description {

    static final List<String> MARKERS = ['shipmark: ', '<div class="shipmark"']

    @NonCPS
    static String merge(Object current, Object blocks) {
        String ours = (blocks ?: '').toString().replace('\r\n', '\n').trim()
        List<String> kept = []
        for (String paragraph : paragraphs(current)) {
            if (!isBlock(paragraph)) {
                kept << paragraph
            }
        }
        if (ours) {
            kept << ours
        }
        return kept.join('\n\n')
    }

    @NonCPS
    static boolean isBlock(String paragraph) {
        String start = paragraph.trim()
        for (String marker : MARKERS) {
            if (start.startsWith(marker)) {
                return true
            }
        }
        return false
    }

    @NonCPS
    private static List<String> paragraphs(Object text) {
        String all = (text ?: '').toString().replace('\r\n', '\n')
        List<String> out = []
        for (String p : all.split(/\n[ \t]*\n/)) {
            if (p.trim()) {
                out << p.replaceAll(/^\n+|\n+$/, '')
            }
        }
        return out
    }
}
