package dev.shipmark

import com.cloudbees.groovy.cps.NonCPS

/**
 * A short label for an image in badges and log lines: its tag when the reference has one, else the
 * first 12 hex digits of its digest. Display only: references are parsed by the helper, never here.
 */
class ImageLabel {

    @NonCPS
    static String of(Object image, Object digest = null) {
        String ref = image?.toString() ?: ''
        int at = ref.indexOf('@')
        String name = at >= 0 ? ref.substring(0, at) : ref
        int slash = name.lastIndexOf('/')
        int colon = name.lastIndexOf(':')
        if (colon > slash && colon < name.length() - 1) {
            return name.substring(colon + 1)
        }
        String sha = digest?.toString() ?: (at >= 0 ? ref.substring(at + 1) : '')
        if (sha.startsWith('sha256:') && sha.length() > 7) {
            return sha.substring(7, Math.min(sha.length(), 19))
        }
        return ref
    }
}
