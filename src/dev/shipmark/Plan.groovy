package dev.shipmark

import com.cloudbees.groovy.cps.NonCPS

/**
 * Reads the `services` list of `shipmark plan --json`: which service gets which image.
 * Calls no pipeline steps.
 */
class Plan {

    /** Service name -> picked image (repo@sha256:...), for services that have one, in plan order. */
    @NonCPS
    static Map<String, String> images(Map plan) {
        Map<String, String> picked = [:]
        for (Map service : services(plan)) {
            if (service.image) {
                picked[service.name.toString()] = service.image.toString()
            }
        }
        return picked
    }

    /** Names of the services for which nothing is eligible. */
    @NonCPS
    static List<String> missing(Map plan) {
        return services(plan).findAll { Map service -> !service.image }.collect { Map service -> service.name.toString() }
    }

    /** "worker: channel 'stable' of ... has no member" for each service without an image. */
    @NonCPS
    static List<String> gaps(Map plan) {
        return services(plan).findAll { Map service -> !service.image }.collect { Map service ->
            List reasons = service.reasons instanceof Collection ? service.reasons as List : []
            (reasons ? "${service.name}: ${reasons.join('; ')}" : service.name.toString()).toString()
        }
    }

    /** One line per service: "app: repo@sha256:... (update from repo@sha256:...)", or why it has none. */
    @NonCPS
    static List<String> summary(Map plan) {
        return services(plan).collect { Map service ->
            if (!service.image) {
                List reasons = service.reasons instanceof Collection ? service.reasons as List : []
                String keeps = service.deployed ? " (keeps ${service.deployed})" : ''
                return "${service.name}: no image${keeps}${reasons ? ': ' + reasons.join('; ') : ''}".toString()
            }
            String change = service.change ? " (${service.change}" + (service.deployed ? " from ${service.deployed})" : ')') : ''
            "${service.name}: ${service.image}${change}".toString()
        }
    }

    @NonCPS
    private static List<Map> services(Map plan) {
        Object list = plan?.services
        if (!(list instanceof Collection)) {
            return []
        }
        return list.findAll { Object service -> service instanceof Map && service.name } as List<Map>
    }
}
