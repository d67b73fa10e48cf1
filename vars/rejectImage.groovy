import dev.shipmark.Outcome
import dev.shipmark.Rejection
import dev.shipmark.ShipmarkArgs
import dev.shipmark.ShipmarkRunner
import dev.shipmark.StepArgs

/**
 * Marks an image as unusable: a rejection record, after which no policy accepts it and picks skip it.
 * With rollback: true, every channel whose tag points at the image is rolled back in the same step.
 * Help: rejectImage.txt.
 */
def call(Map args = [:]) {
    Map defaults = [
        image               : null, // image to reject, repo@sha256:... or repo:tag (required)
        reason              : null, // why, recorded with the rejection (required)
        rollback            : false, // also roll back every channel whose tag points at the image
        policy              : null, // policy file for rollback; helper default: SHIPMARK_POLICY, else shipmark.yaml in the workspace
        credentialsId       : null, // Jenkins username/password credentials for the registry
        jenkinsCredentialsId: null, // Jenkins user + API token credentials for Jenkins REST
        signingKeyCredentialsId: null, // Jenkins secret file credentials with the key that signs the record
    ]
    String problem = StepArgs.check(defaults, args, 'rejectImage', ['image', 'reason'])
    if (problem) {
        error(problem)
    }
    Map opts = defaults + args
    if (opts.policy && !opts.rollback) {
        error("rejectImage: 'policy' is used only with 'rollback: true'; add it, or leave 'policy' out")
    }

    List<String> argv = new ShipmarkArgs()
        .option('reason', opts.reason)
        .flag('rollback', opts.rollback)
        .option('policy', opts.policy)
        .positional(opts.image)
        .toList()
    Outcome outcome = new ShipmarkRunner(this, 'rejectImage', opts).run('reject', argv)
    if (outcome.refused && opts.rollback && outcome.json?.not_rolled_back) {
        error(Rejection.stuck(outcome.json))
    }
    if (!outcome.ok) {
        error(outcome.failure('rejectImage'))
    }
    Map json = outcome.json ?: [:]
    echo("rejectImage: ${json.image ?: opts.image} rejected")
    String channels = Rejection.channelLines(json)
    if (channels) {
        echo(channels)
    }
    return json
}
