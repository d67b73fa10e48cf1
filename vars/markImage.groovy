import com.cloudbees.groovy.cps.NonCPS
import dev.shipmark.Outcome
import dev.shipmark.ShipmarkArgs
import dev.shipmark.ShipmarkRunner
import dev.shipmark.StepArgs

/**
 * Records a test suite's result on an image: either a plain result or the counts from JUnit XML.
 * Help: markImage.txt.
 */
def call(Map args = [:]) {
    Map defaults = [
        image               : null, // image the tests ran against, repo@sha256:... or repo:tag (required)
        suite               : null, // suite name the policy refers to, e.g. 'unit', 'acceptance' (required)
        result              : null, // 'passed', 'failed' or 'warned'; give this or junit
        junit               : [],   // JUnit XML glob or list of globs (workspace-relative); give this or result
        url                 : null, // link to the test report; helper default: BUILD_URL
        configuration       : null, // where or how the suite ran, e.g. 'staging, firefox'
        credentialsId       : null, // Jenkins username/password credentials for the registry
        jenkinsCredentialsId: null, // Jenkins user + API token credentials for Jenkins REST
        signingKeyCredentialsId: null, // Jenkins secret file credentials with the key that signs the record
    ]
    String problem = StepArgs.check(defaults, args, 'markImage', ['image', 'suite'])
    if (problem) {
        error(problem)
    }
    Map opts = defaults + args
    boolean hasResult = !StepArgs.isBlank(opts.result)
    boolean hasJunit = !StepArgs.isBlank(opts.junit)
    if (hasResult == hasJunit) {
        error("markImage: give exactly one of 'result' (passed, failed or warned) and 'junit' (a glob of JUnit XML files)")
    }
    if (hasResult && !(opts.result.toString() in ['passed', 'failed', 'warned'])) {
        error("markImage: 'result' must be 'passed', 'failed' or 'warned', got '${opts.result}'")
    }

    List<String> argv = new ShipmarkArgs()
        .option('suite', opts.suite)
        .option('result', hasResult ? opts.result : null)
        .options('junit', hasJunit ? opts.junit : [])
        .option('url', opts.url)
        .option('configuration', opts.configuration)
        .positional(opts.image)
        .toList()

    Outcome outcome = new ShipmarkRunner(this, 'markImage', opts).run('mark', argv)
    if (!outcome.ok) {
        error(outcome.failure('markImage'))
    }
    Map json = outcome.json ?: [:]
    echo("markImage: ${opts.suite} ${json.result ?: opts.result ?: ''}${tally(json.counts)} on ${json.image ?: opts.image}")
    return json
}

/** " (12 passed, 1 failed)" from the helper's counts, or an empty string. */
@NonCPS
String tally(Object counts) {
    if (!(counts instanceof Map) || !counts) {
        return ''
    }
    List<String> order = ['passed', 'failed', 'warned', 'skipped']
    List keys = order.findAll { String key -> counts.containsKey(key) } + counts.keySet().findAll { Object key -> !(key in order) }.sort()
    return ' (' + keys.collect { Object key -> "${counts[key]} ${key}" }.join(', ') + ')'
}
