package dev.shipmark

import com.cloudbees.groovy.cps.NonCPS

/**
 * Finds (or installs) the `shipmark` helper on the agent and runs one of its commands for a step.
 *
 * This is the one class under src/ that calls pipeline steps, through the step script it is given
 * (pipeline-library's `InfraConfig(env)` keeps its classes step-free; running the helper is what
 * every step shares, so it lives here once instead of in each file of vars/).
 *
 * One helper call is one `sh` step, labelled "shipmark COMMAND", whose script is
 * resources/dev/shipmark/run-shipmark.sh in step mode: it finds the helper (or takes $SHIPMARK),
 * writes the arguments to a temporary file, runs the command and prints the status, the helper's
 * path and the JSON, removing its files on exit. Values reach it only through `withEnv` (the
 * argument list as JSON in SHIPMARK_ARGV) and credentials only through `withCredentials`, so no
 * user value is ever part of a command line. The script text is read once per runner.
 *
 * Jenkins REST: Jenkins sets JENKINS_URL on every build, so without bound Jenkins credentials the
 * helper would call REST anonymously (a warning per step, and a wait on agents that cannot reach
 * the controller). JENKINS_URL is therefore removed for a call unless this step binds
 * `jenkinsCredentialsId` or an enclosing block (withShipmark, withCredentials) bound JENKINS_USER.
 */
class ShipmarkRunner implements Serializable {

    private static final long serialVersionUID = 1L

    static final String SCRIPT_RESOURCE = 'dev/shipmark/run-shipmark.sh'
    static final String VERSION_RESOURCE = 'dev/shipmark/VERSION'

    /** The helper commands a step may run; the name is the only non-constant value the script gets besides the JSON. */
    static final List<String> COMMANDS = ['record', 'mark', 'promote', 'reject', 'restore', 'plan', 'render', 'deployed', 'board']
    /** Commands that write records: they get the signing key when one is bound. */
    static final List<String> WRITING = ['record', 'mark', 'promote', 'reject', 'restore', 'deployed']

    private final Object script
    private final String step
    private final String credentialsId
    private final String jenkinsCredentialsId
    private final String signingKeyCredentialsId
    private String helper
    private String scriptText
    private String version

    /**
     * @param script the step script (`this` inside vars/*.groovy)
     * @param step the step's name, used in messages and labels
     * @param opts the step's options; `credentialsId`, `jenkinsCredentialsId` and
     *        `signingKeyCredentialsId` are read here
     */
    ShipmarkRunner(Object script, String step, Map opts) {
        this.script = script
        this.step = step
        this.credentialsId = opts.credentialsId
        this.jenkinsCredentialsId = opts.jenkinsCredentialsId
        this.signingKeyCredentialsId = opts.signingKeyCredentialsId
    }

    /** The label of the `sh` step that runs a command, as the stage view shows it. */
    @NonCPS
    static String label(String command) {
        if (!COMMANDS.contains(command)) {
            throw new IllegalArgumentException("not a shipmark command this library runs: ${command}")
        }
        return "shipmark ${command}".toString()
    }

    /**
     * Runs `shipmark COMMAND --json --args-file FILE` and returns its exit status and JSON output.
     *
     * @param argv the arguments, usually from {@link ShipmarkArgs#toList()}
     * @param extraEnv more `NAME=value` entries for `withEnv`, such as `SHIPMARK_BY=...`
     * @param saveOutput a workspace file that also keeps the JSON (deployStable's plan), or null
     */
    Outcome run(String command, List<String> argv, List<String> extraEnv = [], String saveOutput = null) {
        String name = label(command)
        List<String> env = ["SHIPMARK_STEP_COMMAND=${command}".toString(), "SHIPMARK_ARGV=${ShipmarkArgs.json(argv)}".toString()]
        if (saveOutput) {
            env << "SHIPMARK_SAVE_OUTPUT=${saveOutput}".toString()
        }
        if (!jenkinsCredentialsId && !script.env.JENKINS_USER) {
            env << 'JENKINS_URL='
        }
        env.addAll(extraEnv)
        Map result = runScript(env, credentialBindings(command), name)
        if (result.stage != 'command') {
            failToLocate(result.status)
        }
        helper = result.helper
        return new Outcome(result.status as int, readOutput(result.json as String))
    }

    /** Finds (or installs) the helper on this agent and returns its path, in one `sh` step. */
    String locate() {
        Map result = runScript(['SHIPMARK_STEP_COMMAND=locate', 'SHIPMARK_ARGV=[]'], [], 'shipmark: find the helper')
        if (result.stage != 'located') {
            failToLocate(result.status)
        }
        helper = result.helper
        return helper
    }

    private Map runScript(List<String> env, List bindings, String name) {
        if (scriptText == null) {
            scriptText = script.libraryResource(SCRIPT_RESOURCE)
        }
        List<String> all = new ArrayList<String>(env)
        if (helper) {
            all << "SHIPMARK=${helper}".toString()
        } else if (!script.env.SHIPMARK) {
            // Only a helper still to be found needs the version: it keys the cached virtualenv.
            if (version == null) {
                version = script.libraryResource(VERSION_RESOURCE).trim()
            }
            all << "SHIPMARK_LIBRARY_VERSION=${version}".toString()
        }
        // Closures use locals, not fields: CPS-transformed closures do not reliably see private fields.
        def steps = script
        String body = scriptText
        String printed = steps.withEnv(all) {
            withBindings(bindings) {
                steps.sh(label: name, returnStdout: true, script: body)
            }
        }
        return StepOutput.parse(printed)
    }

    private void failToLocate(Object status) {
        script.error("${step}: could not find or install the shipmark helper (run-shipmark.sh exited with ${status}; see the log above). " +
            "Put shipmark of this library's version on the PATH of this agent, or let pip install it " +
            '(PIP_INDEX_URL, SHIPMARK_PIP_SPEC or SHIPMARK_LIBRARY_DIR; see "Helper" in withShipmark\'s help).')
    }

    /** The `withCredentials` bindings a command gets from this step's own credential ids. */
    List credentialBindings(String command) {
        List bindings = []
        if (credentialsId) {
            bindings << script.usernamePassword(credentialsId: credentialsId,
                usernameVariable: 'SHIPMARK_REGISTRY_USERNAME', passwordVariable: 'SHIPMARK_REGISTRY_PASSWORD')
        }
        if (jenkinsCredentialsId) {
            bindings << script.usernamePassword(credentialsId: jenkinsCredentialsId,
                usernameVariable: 'JENKINS_USER', passwordVariable: 'JENKINS_API_TOKEN')
        }
        if (signingKeyCredentialsId && WRITING.contains(command)) {
            bindings << script.file(credentialsId: signingKeyCredentialsId, variable: 'SHIPMARK_SIGNING_KEY')
        }
        return bindings
    }

    /** Runs body inside `withCredentials` when there is something to bind. */
    Object withBindings(List bindings, Closure body) {
        if (bindings) {
            return script.withCredentials(bindings, body)
        }
        return body.call()
    }

    /**
     * Adds a text badge: `addBadge` (Badge 2.x and 3.x), else `addShortText` (Badge 1.x, removed in
     * 3.x); says so and carries on when neither step exists.
     */
    void badge(String text, String id) {
        try {
            script.addBadge(id: id, text: text)
            return
        } catch (NoSuchMethodError ignored) {
            // Badge 1.x or no Badge plugin: try the old step below.
        }
        try {
            script.addShortText(text: text)
        } catch (NoSuchMethodError ignored) {
            script.echo("${step}: the Badge plugin is not installed; no badge added")
        }
    }

    /** The helper's JSON document, or null when it printed nothing or something that is not JSON. */
    private Map readOutput(String text) {
        if (!text?.trim()) {
            return null
        }
        try {
            Object parsed = script.readJSON(text: text, returnPojo: true)
            return parsed instanceof Map ? (Map) parsed : null
        } catch (Exception ignored) {
            script.echo("${step}: shipmark printed output that is not JSON: ${StepOutput.firstLine(text)}")
            return null
        }
    }
}
