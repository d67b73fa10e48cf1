import groovy.json.JsonOutput
import groovy.json.JsonSlurper
import org.codehaus.groovy.runtime.InvokerHelper

/**
 * Runs vars/*.groovy steps and scripted Jenkinsfiles outside Jenkins, in Groovy 2.4 like Jenkins.
 *
 * Pipeline steps are closures in the script binding (Groovy's Script calls a bound closure when a
 * method is missing, which is also how src/ classes reach steps through the script object). Every
 * step call is recorded. Files are real: each harness has its own workspace directory, so
 * writeFile / readFile / readJSON / fileExists behave as on an agent.
 *
 * `sh` has two modes. By default nothing is executed: the library's helper script (run-shipmark.sh
 * in step mode, recognised by SHIPMARK_STEP_COMMAND in its environment) is answered by
 * {@link #helper}, which decides the exit status and the JSON it prints; other scripts go to
 * {@link #otherShell}. With {@link #realShell} every script runs in bash with the accumulated
 * environment, in the workspace, as on an agent.
 */
class PipelineHarness {

    static final String STEP_SCRIPT = new File(ROOT_DIR(), 'resources/dev/shipmark/run-shipmark.sh').getText('UTF-8')
    static final String FAKE_HELPER_PATH = '/opt/shipmark/bin/shipmark'

    /** Repository root: system property shipmark.root, else the working directory. */
    static final File ROOT = ROOT_DIR()

    private static File ROOT_DIR() {
        return new File(System.getProperty('shipmark.root', '.')).canonicalFile
    }

    final File workspace
    final File tmpDir
    final Map<String, String> baseEnv = [:]
    final Map<String, Object> params = [:]
    final FakeBuild currentBuild = new FakeBuild()

    /** Every step call: [step: name, args: what it was called with, inNode: inside a node block]. */
    final List<Map> calls = []
    /** Every sh call: [script:, env: (Map), status:, returnStatus:, returnStdout:]. */
    final List<Map> shells = []
    /** Every helper command run through the fake helper: [command:, argv:, argsText:, env:, bootstrapped:]. */
    final List<Map> helperRuns = []
    /** echo output and, with a real shell, what scripts printed. */
    final List<String> log = []

    /** Credentials store for withCredentials: id -> [username:, password:]. */
    final Map<String, Map> credentials = [:]
    /** Steps of plugins that are "not installed": calling them throws as Jenkins does. */
    final Set<String> absentSteps = [] as Set

    /** Fake helper: (command, argv, env) -> [status: int, json: Map or null, raw: String or null]. */
    Closure helper = { String command, List argv, Map env -> [status: 0, json: [:]] }
    /** Scripts other than the helper's, when not running a real shell: (call, env) -> [status:, stdout:]. */
    Closure otherShell = { Map call, Map env -> [status: 0, stdout: ''] }
    /** What input returns: (args) -> value. */
    Closure onInput = { Map args -> 'approver' }
    /** How often the fake helper script had to find the helper (no SHIPMARK in its environment). */
    int bootstraps = 0
    /** Exit status of the bootstrap script in fake mode. */
    int bootstrapStatus = 0
    /** How many `node` blocks the current call is inside. */
    int nodeDepth = 0
    /** Execute scripts in bash instead of faking them. */
    boolean realShell = false
    /** Print the log to stderr as it grows (env SHIPMARK_GROOVY_VERBOSE=1). */
    boolean verbose = System.getenv('SHIPMARK_GROOVY_VERBOSE') == '1'

    private final List<List<String>> envStack = []
    private final List<String> dirStack = []
    private final Map<String, Script> loadedSteps = [:]
    final Binding binding = new Binding()
    private final GroovyShell shell

    PipelineHarness() {
        workspace = File.createTempDir('shipmark-ws-', '')
        tmpDir = new File(workspace.path + '@tmp')
        tmpDir.mkdirs()
        baseEnv.putAll([
            WORKSPACE   : workspace.path,
            BUILD_URL   : 'https://jenkins.example.com/job/app/7/',
            JOB_NAME    : 'app',
            BUILD_NUMBER: '7',
            JENKINS_URL : 'https://jenkins.example.com/',
        ])
        currentBuild.absoluteUrl = baseEnv.BUILD_URL
        shell = new GroovyShell(getClass().classLoader, binding)
        bindSteps()
    }

    /** Deletes the workspace; call from @After. */
    void cleanup() {
        workspace.deleteDir()
        tmpDir.deleteDir()
    }

    // ---------------------------------------------------------------- running steps and pipelines

    /** Calls vars/<step>.groovy with the given named arguments, as `step(args)` in a Jenkinsfile. */
    Object runStep(String step, Map args = [:]) {
        return loadStep(step).call(args)
    }

    Script loadStep(String step) {
        if (!loadedSteps.containsKey(step)) {
            loadedSteps[step] = InvokerHelper.createScript(stepClass(step), binding)
        }
        return loadedSteps[step]
    }

    /** Steps are compiled once per test run (compiling is most of the cost of a harness). */
    private static final Map<String, Class> STEP_CLASSES = [:]
    private static final GroovyClassLoader STEP_LOADER = new GroovyClassLoader(PipelineHarness.classLoader)

    private static synchronized Class stepClass(String step) {
        if (!STEP_CLASSES.containsKey(step)) {
            File file = new File(ROOT, "vars/${step}.groovy")
            if (!file.exists()) {
                throw new IllegalArgumentException("no step ${step}: ${file} does not exist")
            }
            STEP_CLASSES[step] = STEP_LOADER.parseClass(file)
        }
        return STEP_CLASSES[step]
    }

    /**
     * Runs a scripted Jenkinsfile. `@Library(...) _` lines are dropped (the harness has already
     * bound the library's steps), and each key of replacements is replaced by its value first,
     * as a person adapting the example would edit it.
     */
    Object runPipeline(File jenkinsfile, Map<String, String> replacements = [:]) {
        String text = jenkinsfile.text.replaceAll(/(?m)^\s*@Library\([^)]*\)\s*_\s*$/, '')
        replacements.each { from, to -> text = text.replace(from, to) }
        Script script = shell.parse(text, jenkinsfile.name.replaceAll(/[^A-Za-z0-9_]/, '_'))
        script.binding = binding
        return script.run()
    }

    // ---------------------------------------------------------------- what tests look at

    List<Map> callsOf(String step) {
        return calls.findAll { it.step == step }
    }

    /** The scripts given to sh, in order. */
    List<String> scripts() {
        return shells.collect { it.script.toString() }
    }

    /** The environment in effect right now: base env, then withEnv and withCredentials layers. */
    Map<String, String> currentEnv() {
        Map<String, String> env = new LinkedHashMap<String, String>(baseEnv)
        for (List<String> layer : envStack) {
            for (String entry : layer) {
                int eq = entry.indexOf('=')
                if (eq > 0 && eq == entry.length() - 1) {
                    env.remove(entry.substring(0, eq))     // as Jenkins' EnvVars.override: empty removes
                } else if (eq > 0) {
                    env[entry.substring(0, eq)] = entry.substring(eq + 1)
                }
            }
        }
        return env
    }

    File file(String path) {
        File f = new File(path)
        if (f.absolute) {
            return f
        }
        String base = dirStack ? dirStack.last() : workspace.path
        return new File(base, path)
    }

    // ---------------------------------------------------------------- the step stubs

    private void record(String step, Object args) {
        calls << [step: step, args: plain(args), inNode: nodeDepth > 0]
    }

    /** Step arguments as Jenkins sees them: GStrings become Strings (it coerces them too). */
    static Object plain(Object value) {
        if (value instanceof GString) {
            return value.toString()
        }
        if (value instanceof Map) {
            return ((Map) value).collectEntries { k, v -> [(plain(k)): plain(v)] }
        }
        if (value instanceof List) {
            return ((List) value).collect { plain(it) }
        }
        return value
    }

    private void bindSteps() {
        binding.setVariable('env', new EnvProxy(this))
        binding.setVariable('params', params)
        binding.setVariable('currentBuild', currentBuild)
        binding.setVariable('scm', [$class: 'GitSCM'])

        bind('sh') { Object arg -> sh(arg instanceof Map ? (Map) arg : [script: arg.toString()]) }
        bind('echo') { Object message -> record('echo', message); say(message.toString()) }
        bind('error') { Object message -> record('error', message); throw new PipelineError(message.toString()) }
        bind('withEnv') { List entries, Closure body ->
            record('withEnv', entries)
            withLayer(entries.collect { it.toString() }, body)
        }
        bind('withCredentials') { List bindings, Closure body ->
            record('withCredentials', bindings)
            List<String> layer = []
            for (Map b : bindings) {
                Map secret = credentials[b.credentialsId]
                if (secret == null) {
                    throw new PipelineError("Could not find credentials entry with ID '${b.credentialsId}'")
                }
                if (b.kind == 'file') {
                    // A secret file: Jenkins writes it to a temporary file and binds its path.
                    File secretFile = new File(tmpDir, "secretFiles/${b.credentialsId}")
                    secretFile.parentFile.mkdirs()
                    secretFile.text = secret.content
                    layer << "${b.variable}=${secretFile.path}".toString()
                } else {
                    layer << "${b.usernameVariable}=${secret.username}".toString()
                    layer << "${b.passwordVariable}=${secret.password}".toString()
                }
            }
            withLayer(layer, body)
        }
        bind('usernamePassword') { Map args -> record('usernamePassword', args); [kind: 'usernamePassword'] + args }
        bind('string') { Map args -> record('string', args); [kind: 'string'] + args }
        bind('file') { Map args -> record('file', args); [kind: 'file'] + args }
        bind('booleanParam') { Map args -> record('booleanParam', args); [kind: 'booleanParam'] + args }
        bind('writeFile') { Map args ->
            record('writeFile', args)
            File f = file(args.file.toString())
            f.parentFile?.mkdirs()
            f.setText(args.text.toString(), 'UTF-8')
            null
        }
        bind('readFile') { Object arg ->
            String path = arg instanceof Map ? arg.file : arg
            record('readFile', path)
            File f = file(path)
            if (!f.exists()) {
                throw new PipelineError("java.nio.file.NoSuchFileException: ${f}")
            }
            f.getText('UTF-8')
        }
        bind('readJSON') { Map args ->
            record('readJSON', args)
            String text = args.text != null ? args.text : file(args.file.toString()).getText('UTF-8')
            new JsonSlurper().parseText(text)
        }
        bind('fileExists') { Object arg ->
            String path = arg instanceof Map ? arg.file : arg
            record('fileExists', path)
            file(path.toString()).exists()
        }
        bind('pwd') { Object[] a ->
            Map args = a && a[0] instanceof Map ? (Map) a[0] : [:]
            record('pwd', args)
            args.tmp ? tmpDir.path : (dirStack ? dirStack.last() : workspace.path)
        }
        bind('dir') { String path, Closure body ->
            record('dir', path)
            dirStack << file(path).path
            file(path).mkdirs()
            try {
                body.call()
            } finally {
                dirStack.remove(dirStack.size() - 1)
            }
        }
        bind('libraryResource') { String path ->
            record('libraryResource', path)
            File f = new File(ROOT, "resources/${path}")
            if (!f.exists()) {
                throw new PipelineError("No such library resource ${path} could be found.")
            }
            f.getText('UTF-8')
        }
        bind('archiveArtifacts') { Map args ->
            record('archiveArtifacts', args)
            String pattern = args.artifacts.toString()
            if (!pattern.contains('*') && !file(pattern).exists() && !args.allowEmptyArchive) {
                throw new PipelineError("No artifacts found that match the file pattern \"${pattern}\".")
            }
            null
        }
        bind('junit') { Object args -> record('junit', args); null }
        bind('input') { Map args -> record('input', args); onInput.call(args) }
        bind('build') { Map args -> record('build', args); new FakeBuild(number: 1, result: 'SUCCESS') }
        bind('addShortText') { Map args -> record('addShortText', args); null }
        bind('addBadge') { Map args -> record('addBadge', args); null }
        bind('publishHTML') { Object args -> record('publishHTML', args); null }
        bind('jobDsl') { Map args -> record('jobDsl', args); null }
        bind('checkout') { Object args -> record('checkout', args); null }
        bind('deleteDir') { -> record('deleteDir', null); null }
        bind('properties') { List args -> record('properties', args); null }
        bind('parameters') { List args -> record('parameters', args); [kind: 'parameters', definitions: args] }
        bind('pipelineTriggers') { List args -> record('pipelineTriggers', args); [kind: 'pipelineTriggers', triggers: args] }
        bind('cron') { String spec -> record('cron', spec); [kind: 'cron', spec: spec] }
        bind('buildDiscarder') { Object args -> record('buildDiscarder', args); [kind: 'buildDiscarder'] }
        bind('logRotator') { Map args -> record('logRotator', args); [kind: 'logRotator'] + args }
        bind('node') { Object[] a ->
            record('node', a.length > 1 ? a[0] : null)
            nodeDepth++
            try {
                ((Closure) a[-1]).call()
            } finally {
                nodeDepth--
            }
        }
        bind('pipeline') { Closure body ->
            record('pipeline', null)
            Map<String, Closure> steps = ['node', 'withEnv', 'input', 'error', 'stage'].collectEntries { [(it): (Closure) binding.getVariable(it)] }
            new DeclarativeStandIn(steps, { Closure c -> c.call() }).run(body)
        }
        bind('stage') { String name, Closure body -> record('stage', name); say("[stage] ${name}"); body.call() }
        bind('timeout') { Map args, Closure body -> record('timeout', args); body.call() }
        bind('timestamps') { Closure body -> record('timestamps', null); body.call() }
        bind('script') { Closure body -> record('script', null); body.call() }
        bindLibrarySteps()
    }

    private void bind(String name, Closure impl) {
        binding.setVariable(name, { Object[] args ->
            if (absentSteps.contains(name)) {
                throw new NoSuchMethodError("No such DSL method '${name}' found among steps")
            }
            impl.call(*args)
        })
    }

    /** The library's own steps, callable from Jenkinsfiles and from each other. */
    private void bindLibrarySteps() {
        new File(ROOT, 'vars').listFiles().findAll { it.name.endsWith('.groovy') }.each { File f ->
            String step = f.name - '.groovy'
            binding.setVariable(step, { Object[] args -> loadStep(step).invokeMethod('call', args) })
        }
    }

    private Object withLayer(List<String> layer, Closure body) {
        envStack << layer
        try {
            return body.call()
        } finally {
            envStack.remove(envStack.size() - 1)
        }
    }

    private void say(String line) {
        log << line
        if (verbose) {
            System.err.println(line)
        }
    }

    // ---------------------------------------------------------------- sh

    private Object sh(Map args) {
        String script = args.script.toString()
        Map<String, String> env = currentEnv()
        Map call = [script: script, env: env, returnStatus: args.returnStatus ?: false,
                    returnStdout: args.returnStdout ?: false]
        record('sh', args)
        shells << call
        Map result = realShell ? runBash(script, env) : fakeShell(call, env)
        call.status = result.status
        if (args.returnStatus) {
            return result.status
        }
        if (result.status != 0) {
            throw new PipelineError("script returned exit code ${result.status}")
        }
        return args.returnStdout ? (result.stdout ?: '') : null
    }

    private Map fakeShell(Map call, Map<String, String> env) {
        if (env.SHIPMARK_STEP_COMMAND) {
            return fakeHelperScript(call, env)
        }
        return (Map) otherShell.call(call, env)
    }

    /** What run-shipmark.sh prints in step mode, with {@link #helper} standing in for the helper. */
    private Map fakeHelperScript(Map call, Map<String, String> env) {
        if (call.script != STEP_SCRIPT) {
            throw new PipelineError('the helper must run as resources/dev/shipmark/run-shipmark.sh')
        }
        String command = env.SHIPMARK_STEP_COMMAND
        boolean bootstrapped = !env.SHIPMARK
        if (bootstrapped) {
            bootstraps++
            if (bootstrapStatus != 0) {
                return [status: 0, stdout: "shipmark-step helper ${bootstrapStatus}\n\n".toString()]
            }
        }
        String path = env.SHIPMARK ?: FAKE_HELPER_PATH
        if (command == 'locate') {
            return [status: 0, stdout: "shipmark-step located 0\n${path}\n".toString()]
        }
        String argsText = env.SHIPMARK_ARGV
        List argv = (List) new JsonSlurper().parseText(argsText)
        helperRuns << [command: command, argv: argv, argsText: argsText, env: env, bootstrapped: bootstrapped]
        Map answer = (Map) helper.call(command, argv, env)
        String printed = answer.raw != null ? answer.raw.toString() : (answer.json != null ? JsonOutput.toJson(answer.json) : '')
        if (env.SHIPMARK_SAVE_OUTPUT) {
            File saved = file(env.SHIPMARK_SAVE_OUTPUT)
            saved.parentFile.mkdirs()
            saved.setText(printed, 'UTF-8')
        }
        return [status: 0, stdout: "shipmark-step command ${answer.status ?: 0}\n${path}\n${printed}".toString()]
    }

    /** Runs a script as the sh step does: `sh -xe FILE`, or the file itself when it has a #! line. */
    private Map runBash(String script, Map<String, String> env) {
        File scriptFile = File.createTempFile('script', '.sh', tmpDir)
        scriptFile.setText(script, 'UTF-8')
        scriptFile.setExecutable(true)
        List<String> command = script.startsWith('#!') ? [scriptFile.path] : ['sh', '-xe', scriptFile.path]
        ProcessBuilder builder = new ProcessBuilder(command)
        builder.directory(new File(dirStack ? dirStack.last() : workspace.path))
        Map<String, String> processEnv = builder.environment()
        processEnv.putAll(env.collectEntries { k, v -> [(k): v == null ? '' : v.toString()] } as Map<String, String>)
        Process process = builder.start()
        process.outputStream.close()
        StringBuilder out = new StringBuilder()
        StringBuilder err = new StringBuilder()
        process.waitForProcessOutput(out, err)
        int status = process.exitValue()
        scriptFile.delete()
        if (err) {
            say(err.toString().trim())
        }
        return [status: status, stdout: out.toString()]
    }
}

/** Thrown by the `error` step (Jenkins throws hudson.AbortException) and by failing stubs. */
class PipelineError extends RuntimeException {
    PipelineError(String message) {
        super(message)
    }
}

/** currentBuild: the RunWrapper properties the library and examples use. */
class FakeBuild {
    String description
    boolean keepLog = false
    String result = 'SUCCESS'
    String displayName = '#7'
    int number = 7
    String absoluteUrl
}

/** `env`: reads the current environment (withEnv included), assignments set the base environment. */
class EnvProxy extends GroovyObjectSupport {
    private final PipelineHarness harness

    EnvProxy(PipelineHarness harness) {
        this.harness = harness
    }

    @Override
    Object getProperty(String name) {
        return harness.currentEnv()[name]
    }

    @Override
    void setProperty(String name, Object value) {
        harness.baseEnv[name] = value?.toString()
    }

    Map<String, String> getEnvironment() {
        return harness.currentEnv()
    }
}
