import dev.shipmark.ShipmarkRunner
import dev.shipmark.StepArgs

/**
 * Runs a block of shipmark steps with the helper found once on this node and the credentials
 * bound once: the steps inside need no credential ids of their own. Use it inside `node`.
 * Help: withShipmark.txt.
 */
def call(Map args = [:], Closure body = null) {
    Map defaults = [
        credentialsId          : null, // Jenkins username/password credentials for the registry
        jenkinsCredentialsId   : null, // Jenkins user + API token credentials for Jenkins REST; without it the steps leave Jenkins alone
        signingKeyCredentialsId: null, // Jenkins secret file credentials with the key that signs records
    ]
    String problem = StepArgs.check(defaults, args, 'withShipmark')
    if (problem) {
        error(problem)
    }
    if (body == null) {
        error('withShipmark: needs a block: withShipmark(credentialsId: ...) { recordImage(...) }')
    }
    Map opts = defaults + args
    ShipmarkRunner runner = new ShipmarkRunner(this, 'withShipmark', opts)
    String helper = runner.locate()
    List bindings = runner.credentialBindings('record')
    return withEnv(["SHIPMARK=${helper}"]) {
        runner.withBindings(bindings) {
            body()
        }
    }
}
