import dev.shipmark.Outcome
import dev.shipmark.ShipmarkArgs
import dev.shipmark.ShipmarkRunner
import dev.shipmark.StepArgs

/**
 * Marks an image as unusable: a rejection record, after which no policy accepts it and picks skip it.
 * Help: rejectImage.txt.
 */
def call(Map args = [:]) {
    Map defaults = [
        image               : null, // image to reject, repo@sha256:... or repo:tag (required)
        reason              : null, // why, recorded with the rejection (required)
        credentialsId       : null, // Jenkins username/password credentials for the registry
        jenkinsCredentialsId: null, // Jenkins user + API token credentials for Jenkins REST
        signingKeyCredentialsId: null, // Jenkins secret file credentials with the key that signs the record
    ]
    String problem = StepArgs.check(defaults, args, 'rejectImage', ['image', 'reason'])
    if (problem) {
        error(problem)
    }
    Map opts = defaults + args

    List<String> argv = new ShipmarkArgs()
        .option('reason', opts.reason)
        .positional(opts.image)
        .toList()
    Outcome outcome = new ShipmarkRunner(this, 'rejectImage', opts).run('reject', argv)
    if (!outcome.ok) {
        error(outcome.failure('rejectImage'))
    }
    Map json = outcome.json ?: [:]
    echo("rejectImage: ${json.image ?: opts.image} rejected")
    return json
}
