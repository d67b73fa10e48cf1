import dev.shipmark.Outcome
import dev.shipmark.Plan
import dev.shipmark.ShipmarkArgs
import dev.shipmark.ShipmarkRunner
import dev.shipmark.StepArgs

/**
 * What a channel holds for every service (its newest member; for an `auto` channel the newest image
 * its policy admits), as a map service name -> repo@sha256:...
 * Help: stableImages.txt.
 */
def call(Map args = [:]) {
    Map defaults = [
        services     : 'deploy/services.yaml', // services file (workspace-relative)
        channel      : 'stable',               // channel whose images are wanted
        policy       : null,                   // policy file for all services; default: each service's own
        allowMissing : false,                  // true: leave out services without an image instead of failing
        credentialsId: null,                   // Jenkins username/password credentials for the registry
    ]
    String problem = StepArgs.check(defaults, args, 'stableImages', ['services', 'channel'])
    if (problem) {
        error(problem)
    }
    Map opts = defaults + args

    List<String> argv = new ShipmarkArgs()
        .option('services', opts.services)
        .option('channel', opts.channel)
        .option('policy', opts.policy)
        .toList()
    Outcome outcome = new ShipmarkRunner(this, 'stableImages', opts).run('plan', argv)
    if (outcome.refused) {
        error(outcome.refusal('stableImages', "no image in channel ${opts.channel}"))
    }
    if (!outcome.ok) {
        error(outcome.failure('stableImages'))
    }
    Map picked = Plan.images(outcome.json)
    List<String> missing = Plan.missing(outcome.json)
    if (missing && !opts.allowMissing) {
        error("stableImages: no image in channel ${opts.channel} for ${Plan.gaps(outcome.json).join('; ')} " +
            '(pass allowMissing: true to leave them out)')
    }
    if (missing) {
        echo("stableImages: no image in channel ${opts.channel}, left out: ${Plan.gaps(outcome.json).join('; ')}")
    }
    return picked
}
