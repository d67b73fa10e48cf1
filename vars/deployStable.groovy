import dev.shipmark.Outcome
import dev.shipmark.Plan
import dev.shipmark.ShipmarkArgs
import dev.shipmark.ShipmarkRunner
import dev.shipmark.StepArgs

/**
 * Deploys what the channel holds for every service: plan, render deploy files, run your own apply
 * command, record the deployment. Services without an image keep what the target runs and are
 * reported. When apply fails: record the failure and, with rollback, render the previous deployed set,
 * apply it once, then fail the build. Help: deployStable.txt.
 */
def call(Map args = [:]) {
    Map defaults = [
        services            : 'deploy/services.yaml', // services file (workspace-relative)
        channel             : 'stable',               // channel whose images are deployed
        target              : null,                   // name of the environment, recorded with each deployment (required)
        template            : null,                   // Jinja2 template for the deploy files (required)
        outDir              : 'deploy/rendered',      // where the rendered files go; SHIPMARK_RENDER_DIR in apply
        planFile            : 'shipmark/plan.json',   // where the plan is saved; render and deployed read it
        apply               : null,                   // your shell command that applies the rendered files (required)
        rollback            : true,                   // on apply failure, render and apply the previous deployed set once
        policy              : null,                   // policy file for all services; default: each service's own
        credentialsId       : null,                   // Jenkins username/password credentials for the registry
        jenkinsCredentialsId: null,                   // Jenkins user + API token credentials for Jenkins REST
        signingKeyCredentialsId: null,                // Jenkins secret file credentials with the key that signs deployment records
    ]
    String problem = StepArgs.check(defaults, args, 'deployStable', ['services', 'channel', 'target', 'template', 'outDir', 'planFile', 'apply'])
    if (problem) {
        error(problem)
    }
    Map opts = defaults + args
    ShipmarkRunner shipmark = new ShipmarkRunner(this, 'deployStable', opts)

    Outcome plan = shipmark.run('plan', planArgs(opts).toList(), [], opts.planFile)
    if (plan.refused) {
        error(plan.refusal('deployStable', "nothing eligible for channel ${opts.channel}"))
    }
    if (!plan.ok) {
        error(plan.failure('deployStable'))
    }
    // An index loop: a for-in loop keeps an Iterator, which CPS cannot checkpoint across the echo step.
    List<String> lines = Plan.summary(plan.json)
    for (int i = 0; i < lines.size(); i++) {
        echo("deployStable: ${lines[i]}")
    }
    if (Plan.missing(plan.json) && !Plan.images(plan.json)) {
        error("deployStable: no service has an image in channel ${opts.channel}: ${Plan.gaps(plan.json).join('; ')}")
    }
    List<String> gaps = Plan.gaps(plan.json)

    // render and deployed read the saved plan, so they use exactly the images planned above.
    Outcome rendered = shipmark.run('render', planArgs(opts)
        .option('plan', opts.planFile)
        .option('template', opts.template)
        .option('out', opts.outDir)
        .toList())
    if (!rendered.ok) {
        error(rendered.failure('deployStable'))
    }

    int status = applyRendered(opts, false)
    if (status == 0) {
        Outcome recorded = shipmark.run('deployed', planArgs(opts).option('plan', opts.planFile).toList())
        if (!recorded.ok) {
            error(recorded.failure('deployStable'))
        }
        echo("deployStable: deployed to ${opts.target}")
        if (gaps) {
            echo("deployStable: not deployed (no image in channel ${opts.channel}): ${gaps.join('; ')}")
        }
        return Plan.images(plan.json)
    }

    ShipmarkArgs failed = planArgs(opts).option('plan', opts.planFile).flag('failed', true)
    if (opts.rollback) {
        failed.flag('rollback', true).option('template', opts.template).option('out', opts.outDir)
    }
    Outcome recorded = shipmark.run('deployed', failed.toList())
    String what = "deployStable: apply failed with exit status ${status}"
    if (!recorded.ok && opts.rollback && recorded.status == Outcome.NOT_FOUND) {
        // The failure is recorded; only the earlier set to go back to is missing (a first deployment).
        error("${what}; recorded as a failed deployment to ${opts.target}; nothing to roll back to: ${recorded.message}")
    }
    if (!recorded.ok) {
        error("${what}; recording the failed deployment failed too: ${recorded.message}")
    }
    if (!opts.rollback) {
        error("${what}; recorded as a failed deployment to ${opts.target}")
    }
    int again = applyRendered(opts, true)
    if (again != 0) {
        error("${what}; rolled back to the previous deployed set, but applying it failed with exit status ${again}")
    }
    error("${what}; rolled back to the previous deployed set and applied it")
}

/** The arguments plan, render and deployed share. */
ShipmarkArgs planArgs(Map opts) {
    return new ShipmarkArgs()
        .option('services', opts.services)
        .option('channel', opts.channel)
        .option('target', opts.target)
        .option('policy', opts.policy)
}

/** Runs the user's own apply command (theirs to write; the only shell text this library does not own). */
int applyRendered(Map opts, boolean rollingBack) {
    List<String> env = ["SHIPMARK_RENDER_DIR=${opts.outDir}", "SHIPMARK_TARGET=${opts.target}",
                        "SHIPMARK_CHANNEL=${opts.channel}", "SHIPMARK_ROLLBACK=${rollingBack}"]
    return withEnv(env) {
        sh(returnStatus: true, script: opts.apply)
    } as int
}
