package dev.shipmark

import com.cloudbees.groovy.cps.NonCPS

/**
 * Finds (or installs) the `shipmark` helper on the agent and runs one of its commands for a step.
 *
 * This is the one class under src/ that calls pipeline steps, through the step script it is given
 * (pipeline-library's `InfraConfig(env)` keeps its classes step-free; running the helper is what
 * every step shares, so it lives here once instead of six times in vars/).
 *
 * How values travel: the argument list goes to a JSON file written with `writeFile`; the helper's
 * path, that file and the output file go to the shell as environment variables through `withEnv`;
 * credentials come only from `withCredentials`. The shell scripts below are constants, so no user
 * value is ever part of a command line and `sh -x` prints only file paths.
 */
class ShipmarkRunner implements Serializable {

    private static final long serialVersionUID = 1L

    static final String BOOTSTRAP_RESOURCE = 'dev/shipmark/run-shipmark.sh'
    static final String VERSION_RESOURCE = 'dev/shipmark/VERSION'

    /** The helper commands a step may run; the name is the only non-constant part of a script. */
    static final List<String> COMMANDS = ['record', 'mark', 'promote', 'reject', 'restore', 'plan', 'render', 'deployed', 'board']

    static final String BOOTSTRAP_SCRIPT = 'bash "$SHIPMARK_BOOTSTRAP" > "$SHIPMARK_HELPER_FILE"'

    private final Object script
    private final String step
    private final String credentialsId
    private final String jenkinsCredentialsId
    private String helper

    /**
     * @param script the step script (`this` inside vars/*.groovy)
     * @param step the step's name, used in messages and file names
     * @param opts the step's options; `credentialsId` and `jenkinsCredentialsId` are read here
     */
    ShipmarkRunner(Object script, String step, Map opts) {
        this.script = script
        this.step = step
        this.credentialsId = opts.credentialsId
        this.jenkinsCredentialsId = opts.jenkinsCredentialsId
    }

    /** The shell script that runs a helper command; constant apart from the vetted command name. */
    @NonCPS
    static String commandLine(String command) {
        if (!COMMANDS.contains(command)) {
            throw new IllegalArgumentException("not a shipmark command this library runs: ${command}")
        }
        return '"$SHIPMARK" ' + command + ' --json --args-file "$SHIPMARK_ARGS" > "$SHIPMARK_OUT"'
    }

    /**
     * Runs `shipmark COMMAND --json --args-file FILE` and returns its exit status and JSON output.
     *
     * @param argv the arguments, usually from {@link ShipmarkArgs#toList()}
     * @param extraEnv more `NAME=value` entries for `withEnv`, such as `SHIPMARK_BY=...`
     */
    Outcome run(String command, List<String> argv, List<String> extraEnv = []) {
        String line = commandLine(command)
        String tmp = script.pwd(tmp: true)
        String executable = locate(tmp)
        String base = "${tmp}/shipmark-${step}-${command}-${UUID.randomUUID()}"
        String argsFile = "${base}-args.json"
        String outFile = "${base}-out.json"
        script.writeFile(file: argsFile, text: groovy.json.JsonOutput.toJson(argv))
        List<String> env = ["SHIPMARK=${executable}", "SHIPMARK_ARGS=${argsFile}", "SHIPMARK_OUT=${outFile}"]
        env.addAll(extraEnv)
        // Closures use locals, not fields: CPS-transformed closures do not reliably see private fields.
        def steps = script
        int status = steps.withEnv(env) {
            withHelperCredentials {
                steps.sh(returnStatus: true, script: line)
            }
        } as int
        return new Outcome(status, readOutput(outFile), outFile)
    }

    /** Runs body inside `withCredentials` for the registry and Jenkins credentials that were given. */
    Object withHelperCredentials(Closure body) {
        List bindings = []
        if (credentialsId) {
            bindings << script.usernamePassword(credentialsId: credentialsId,
                usernameVariable: 'SHIPMARK_REGISTRY_USERNAME', passwordVariable: 'SHIPMARK_REGISTRY_PASSWORD')
        }
        if (jenkinsCredentialsId) {
            bindings << script.usernamePassword(credentialsId: jenkinsCredentialsId,
                usernameVariable: 'JENKINS_USER', passwordVariable: 'JENKINS_API_TOKEN')
        }
        if (bindings) {
            return script.withCredentials(bindings, body)
        }
        return body.call()
    }

    /** Adds a short text badge when the Badge plugin is installed; says so and carries on when not. */
    void badge(String text) {
        try {
            script.addShortText(text: text)
        } catch (NoSuchMethodError ignored) {
            script.echo("${step}: the Badge plugin is not installed; no badge added")
        } catch (MissingMethodException ignored) {
            script.echo("${step}: the Badge plugin is not installed; no badge added")
        }
    }

    /** Path of the helper on this agent: `shipmark` on PATH, else the cached virtualenv (created on first use). */
    private String locate(String tmp) {
        if (helper) {
            return helper
        }
        String bootstrap = "${tmp}/run-shipmark.sh"
        String answer = "${tmp}/shipmark-helper-${UUID.randomUUID()}.txt"
        script.writeFile(file: bootstrap, text: script.libraryResource(BOOTSTRAP_RESOURCE))
        String version = script.libraryResource(VERSION_RESOURCE).trim()
        List<String> env = ["SHIPMARK_BOOTSTRAP=${bootstrap}", "SHIPMARK_HELPER_FILE=${answer}",
                            "SHIPMARK_LIBRARY_VERSION=${version}"]
        def steps = script
        int status = steps.withEnv(env) {
            steps.sh(returnStatus: true, script: BOOTSTRAP_SCRIPT)
        } as int
        String path = status == 0 ? lastLine(script.readFile(file: answer)) : ''
        if (!path) {
            script.error("${step}: could not find or install the shipmark helper (run-shipmark.sh exited with ${status}; see the log above). " +
                'Put shipmark on the PATH of this agent, or set SHIPMARK_PIP_SPEC to something pip can install.')
        }
        helper = path
        return helper
    }

    /** The helper's JSON document, or null when it printed nothing or something that is not JSON. */
    private Map readOutput(String outFile) {
        if (!script.fileExists(outFile)) {
            return null
        }
        String text = script.readFile(file: outFile)
        if (!text?.trim()) {
            return null
        }
        try {
            Object parsed = script.readJSON(file: outFile, returnPojo: true)
            return parsed instanceof Map ? (Map) parsed : null
        } catch (Exception ignored) {
            script.echo("${step}: shipmark printed output that is not JSON; see ${outFile}")
            return null
        }
    }

    @NonCPS
    private static String lastLine(String text) {
        List<String> lines = (text ?: '').readLines().collect { it.trim() }.findAll { it }
        return lines ? lines.last() : ''
    }
}
