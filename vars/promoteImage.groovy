import com.cloudbees.groovy.cps.NonCPS
import dev.shipmark.Outcome
import dev.shipmark.ShipmarkArgs
import dev.shipmark.ShipmarkRunner
import dev.shipmark.StepArgs

/**
 * Promotes an image to a channel when the policy allows it: optional approval through `input`,
 * then a promotion record and the channel tag moved; on success a badge and the build kept.
 * Help: promoteImage.txt.
 */
def call(Map args = [:]) {
    Map defaults = [
        image               : null,  // image to promote, repo@sha256:... or repo:tag (required)
        to                  : null,  // channel, e.g. 'testing', 'stable' (required)
        policy              : null,  // policy file; helper default: SHIPMARK_POLICY, else shipmark.yaml in the workspace
        approve             : [:],   // [submitter: 'alice,release-managers', message: '...']: ask with input first (holds the node while waiting)
        approvedBy          : null,  // who approved in your own input step outside node; recorded as the actor
        copyTo              : null,  // also copy the image and its records into this repository
        dryRun              : false, // only check the policy; change nothing
        force               : false, // promote although the policy refuses (audited; needs reason)
        reason              : null,  // why, for a forced promotion
        failOnRefusal       : true,  // false: return false instead of failing when the policy refuses
        keepLog             : true,  // keep this build forever once the image is promoted to one of keepChannels
        keepChannels        : ['stable'], // channels whose promotions keep this build (and the producing build) forever
        badge               : true,  // add a badge naming the channel (Badge plugin)
        credentialsId       : null,  // Jenkins username/password credentials for the registry
        jenkinsCredentialsId: null,  // Jenkins user + API token credentials for Jenkins REST
        signingKeyCredentialsId: null, // Jenkins secret file credentials with the key that signs the promotion record
    ]
    String problem = StepArgs.check(defaults, args, 'promoteImage', ['image', 'to'])
    if (problem) {
        error(problem)
    }
    Map opts = defaults + args
    if (opts.force && StepArgs.isBlank(opts.reason)) {
        error("promoteImage: 'force: true' needs a 'reason' (it is recorded with the promotion)")
    }
    if (opts.approve && opts.approvedBy) {
        error("promoteImage: give either 'approve' (ask here) or 'approvedBy' (asked outside node), not both")
    }
    Map approve = opts.approve ?: [:]
    String approveProblem = StepArgs.check([submitter: null, message: null], approve, 'promoteImage: approve')
    if (approveProblem) {
        error(approveProblem)
    }

    ShipmarkRunner shipmark = new ShipmarkRunner(this, 'promoteImage', opts)
    List<String> byWhom = opts.approvedBy ? [actor(opts.approvedBy)] : []
    if (approve && !opts.dryRun) {
        // Ask only about images the policy would accept: check first, then wait for a person.
        if (!outcomeAccepted(opts, shipmark.run('promote', promoteArgs(opts, true)))) {
            return false
        }
        Map question = [message: approve.message ?: "Promote ${opts.image} to ${opts.to}?".toString(),
                        ok: "Promote to ${opts.to}".toString(), submitterParameter: 'SHIPMARK_APPROVER']
        if (approve.submitter) {
            question.submitter = approve.submitter
        }
        Object answer = input(question)
        String approver = answer instanceof Map ? answer.SHIPMARK_APPROVER : answer
        if (approver) {
            byWhom << actor(approver)
        }
    }

    Outcome outcome = shipmark.run('promote', promoteArgs(opts, opts.dryRun), byWhom)
    if (!outcomeAccepted(opts, outcome)) {
        return false
    }
    if (opts.dryRun) {
        echo("promoteImage: dry run: ${opts.image} may be promoted to ${opts.to}")
        return true
    }
    boolean keep = opts.keepLog && keeps(opts)
    if (keep) {
        currentBuild.keepLog = true
    }
    if (opts.badge) {
        shipmark.badge("\u2605 ${opts.to}", "shipmark-channel-${opts.to}")
    }
    Map json = outcome.json ?: [:]
    String copied = json.copied_to ? " (copied to ${json.copied_to})" : ''
    echo("promoteImage: ${json.image ?: opts.image} promoted to ${opts.to}${json.forced ? ' (forced)' : ''}${copied}")
    return true
}

List<String> promoteArgs(Map opts, Object dryRun) {
    return new ShipmarkArgs()
        .option('to', opts.to)
        .option('keep-build-for', keepBuildFor(opts))
        .option('policy', opts.policy)
        .option('copy-to', opts.copyTo)
        .flag('dry-run', dryRun)
        .flag('force', opts.force)
        .option('reason', opts.reason)
        .positional(opts.image)
        .toList()
}

/** The channels whose promotions keep builds forever. */
@NonCPS
List<String> keepChannels(Map opts) {
    Object channels = opts.keepChannels instanceof CharSequence ? [opts.keepChannels] : (opts.keepChannels ?: [])
    return channels.collect { Object channel -> channel.toString() }
}

/** --keep-build-for for the helper, left out when it is the helper's default (stable). */
@NonCPS
String keepBuildFor(Map opts) {
    String channels = opts.keepLog ? keepChannels(opts).join(',') : ''
    return channels == 'stable' ? null : channels
}

/** Whether promotions to this channel keep builds forever. */
@NonCPS
boolean keeps(Map opts) {
    return keepChannels(opts).contains(opts.to.toString())
}

/** SHIPMARK_BY for the promotion record: the approver, and this build. */
String actor(Object approver) {
    return "SHIPMARK_BY=${approver}${env.BUILD_URL ? " via ${env.BUILD_URL}" : ''}".toString()
}

/** True when shipmark accepted; false (or error) on a policy refusal; error on anything else. */
boolean outcomeAccepted(Map opts, Outcome outcome) {
    if (outcome.refused) {
        String message = outcome.refusal('promoteImage', "${opts.image} may not be promoted to ${opts.to}")
        if (opts.failOnRefusal) {
            error(message)
        }
        echo(message)
        return false
    }
    if (!outcome.ok) {
        error(outcome.failure('promoteImage'))
    }
    return true
}
