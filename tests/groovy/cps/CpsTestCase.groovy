import com.lesfurets.jenkins.unit.MethodCall
import com.lesfurets.jenkins.unit.cps.BasePipelineTestCPS
import com.lesfurets.jenkins.unit.cps.PipelineTestHelperCPS
import groovy.json.JsonOutput
import groovy.json.JsonSlurperClassic
import org.junit.After
import org.junit.Before

import static com.lesfurets.jenkins.unit.global.lib.LibraryConfiguration.library

/**
 * Runs the library as Jenkins runs it: JenkinsPipelineUnit's CPS mode compiles the Jenkinsfile,
 * every vars/ step and every src/ class through groovy-cps' CpsTransformer, loads the library
 * through `@Library('shipmark') _` (vars/, src/, resources/ of this checkout), and at each step
 * of the interpreted program inside a step's body round-trips its whole state through Java
 * serialization, as Jenkins does when it checkpoints a build. Non-serializable locals, CPS code
 * called from @NonCPS code and closures handed to plain Groovy methods fail here.
 *
 * Pipeline steps are stubs: `sh` answers the library's helper script (recognised by
 * SHIPMARK_STEP_COMMAND in the environment) from {@link #answer} and other scripts with
 * {@link #otherShell}; `withEnv` and `withCredentials` change {@link #env} for their body only.
 */
abstract class CpsTestCase extends BasePipelineTestCPS {

    static final File ROOT = new File(System.getProperty('shipmark.root', '.')).canonicalFile
    static final String FAKE_HELPER = '/opt/shipmark/bin/shipmark'
    static final String STEP_SCRIPT = new File(ROOT, 'resources/dev/shipmark/run-shipmark.sh').getText('UTF-8')

    /**
     * One helper (one CPS-compiled library) for all tests of a run: compiling vars/ and src/
     * through the CPS transformer is most of the cost. Each test registers its own step stubs
     * and gets its own binding, workspace and script names.
     */
    private static final Map<String, PipelineTestHelperCPS> shared = [:]
    private static File sharedDir
    private static int scripts = 0

    File dir
    File workspace
    Map<String, String> env
    Map<String, Object> build
    Map<String, Object> parameters
    /** Every helper command the fake answered: [command:, argv:, env:, bootstrapped:]. */
    List<Map> helperRuns = []
    /** Every sh call: [args:, env:, inNode:]; every input call: [args:, inNode:]. */
    List<Map> shells = []
    List<Map> inputs = []
    List<String> log = []
    int nodeDepth = 0
    int bootstraps = 0
    Map<String, Map> credentials = [
        'docker-registry': [username: 'ci', password: 'registry-password'],
        'jenkins-api'    : [username: 'jenkins-bot', password: 'jenkins-token-value'],
        'signing-key'    : [content: 'PRIVATE KEY'],
    ]
    /** (command, argv) -> [status:, json:] */
    Closure answer = { String command, List argv -> [status: 0, json: [:]] }
    /** (sh arguments) -> what sh returns for scripts other than the helper's */
    Closure otherShell = { Map args -> args.returnStatus ? 0 : (args.returnStdout ? '' : null) }

    @Before
    void setUpCps() {
        String kind = helper.getClass().name
        if (sharedDir == null) {
            sharedDir = File.createTempDir('shipmark-cps-', '')
            // Holds only files the tests wrote (no links), so a recursive delete stays inside it.
            File created = sharedDir
            addShutdownHook { created.deleteDir() }
        }
        if (!shared.containsKey(kind)) {
            scriptRoots = [sharedDir.path] as String[]
            scriptExtension = 'groovy'
            baseScriptRoot = sharedDir.path
            super.setUp()
            helper.registerSharedLibrary(library().name('shipmark').defaultVersion('master').allowOverride(false)
                .implicit(false).targetPath(sharedDir.path).retriever(new CheckoutSource(ROOT)).build())
            shared[kind] = (PipelineTestHelperCPS) helper
        }
        helper = shared[kind]
        helper.clearCallStack()
        dir = sharedDir
        workspace = new File(dir, "ws-${++scripts}")
        workspace.mkdirs()
        env = [BUILD_URL  : 'https://jenkins.example.com/job/app/7/', JOB_NAME: 'app', BUILD_NUMBER: '7',
               JENKINS_URL: 'https://jenkins.example.com/', WORKSPACE: workspace.path]
        build = [result: 'SUCCESS', description: null, keepLog: false, number: 7]
        parameters = [:]
        binding.setVariable('env', env)
        binding.setVariable('params', parameters)
        binding.setVariable('currentBuild', build)
        binding.setVariable('scm', [kind: 'GitSCM'])
        registerSteps()
    }

    @After
    void removeWorkspace() {
        workspace?.deleteDir()
    }

    /** Runs a Jenkinsfile (copied under a name GroovyScriptEngine can load), returns what it returns. */
    Object runJenkinsfile(File file) {
        return runText(file.getText('UTF-8'), file.path.substring(ROOT.path.length() + 1))
    }

    Object runText(String text, String name = 'pipeline') {
        // A new name per run: GroovyScriptEngine caches scripts by name.
        String scriptName = name.replaceAll(/[^A-Za-z0-9]/, '_') + "_${++scripts}.groovy"
        new File(dir, scriptName).setText(text, 'UTF-8')
        return runScript(scriptName)
    }

    /** Runs `step(args)` inside `node` in a small Jenkinsfile and returns what the step returned. */
    Object runStep(String step, Map args) {
        String text = "@Library('shipmark') _\ndef result\nnode {\n    result = ${step}(${groovyLiteral(args)})\n}\nreturn result\n"
        return runText(text, "step_${step}")
    }

    static String groovyLiteral(Object value) {
        if (value instanceof Map) {
            return value ? '[' + value.collect { k, v -> "${k}: ${groovyLiteral(v)}" }.join(', ') + ']' : '[:]'
        }
        if (value instanceof List) {
            return '[' + value.collect { groovyLiteral(it) }.join(', ') + ']'
        }
        if (value instanceof CharSequence) {
            return "'" + value.toString().replace('\\', '\\\\').replace("'", "\\'").replace('\n', '\\n').replace('$', '\\$') + "'"
        }
        return String.valueOf(value)
    }

    List<String> commands() {
        return helperRuns*.command
    }

    List argvOf(String command, int index = 0) {
        List runs = helperRuns.findAll { it.command == command }
        assert runs.size() > index: "expected a shipmark ${command} run, got ${commands()}"
        return runs[index].argv
    }

    List<MethodCall> callsOf(String name) {
        return helper.callStack.findAll { it.methodName == name }
    }

    /** Runs body with env changed by NAME=value entries (an empty value removes the name, as in Jenkins). */
    Object withEntries(List entries, Closure body) {
        Map<String, String> saved = new LinkedHashMap<String, String>(env)
        entries.each { Object entry ->
            String text = entry.toString()
            int eq = text.indexOf('=')
            String value = text.substring(eq + 1)
            if (value) {
                env[text.substring(0, eq)] = value
            } else {
                env.remove(text.substring(0, eq))
            }
        }
        try {
            return helper.callClosure(body)
        } finally {
            env.clear()
            env.putAll(saved)
        }
    }

    Object inNode(Closure body) {
        nodeDepth++
        try {
            return helper.callClosure(body)
        } finally {
            nodeDepth--
        }
    }

    File workspaceFile(String path) {
        File f = new File(path)
        return f.absolute ? f : new File(workspace, path)
    }

    Object ask(Map args) {
        inputs << [args: args, inNode: nodeDepth > 0]
        return 'alice'
    }

    void registerSteps() {
        helper.registerAllowedMethod('error', [String], { String message -> throw new PipelineAbort(message) })
        helper.registerAllowedMethod('echo', [String], { String message -> log << message })
        helper.registerAllowedMethod('node', [Closure], { Closure body -> inNode(body) })
        helper.registerAllowedMethod('node', [String, Closure], { String label, Closure body -> inNode(body) })
        helper.registerAllowedMethod('stage', [String, Closure], { String name, Closure body -> helper.callClosure(body) })
        helper.registerAllowedMethod('timeout', [Map, Closure], { Map args, Closure body -> helper.callClosure(body) })
        helper.registerAllowedMethod('timestamps', [Closure], { Closure body -> helper.callClosure(body) })
        helper.registerAllowedMethod('script', [Closure], { Closure body -> helper.callClosure(body) })
        helper.registerAllowedMethod('withEnv', [List, Closure], { List entries, Closure body -> withEntries(entries, body) })
        helper.registerAllowedMethod('usernamePassword', [Map], { Map args -> [kind: 'usernamePassword'] + args })
        helper.registerAllowedMethod('file', [Map], { Map args -> [kind: 'file'] + args })
        helper.registerAllowedMethod('string', [Map], { Map args -> [kind: 'string'] + args })
        helper.registerAllowedMethod('withCredentials', [List, Closure], { List bindings, Closure body ->
            List<String> entries = []
            bindings.each { Map b ->
                Map secret = credentials[b.credentialsId]
                if (secret == null) {
                    throw new PipelineAbort("Could not find credentials entry with ID '${b.credentialsId}'")
                }
                if (b.kind == 'file') {
                    entries << "${b.variable}=${dir}/secretFiles/${b.credentialsId}".toString()
                } else {
                    entries << "${b.usernameVariable}=${secret.username}".toString()
                    entries << "${b.passwordVariable}=${secret.password}".toString()
                }
            }
            withEntries(entries, body)
        })
        helper.registerAllowedMethod('sh', [String], { String script -> sh([script: script]) })
        helper.registerAllowedMethod('sh', [Map], { Map args -> sh(args) })
        helper.registerAllowedMethod('readJSON', [Map], { Map args ->
            // readJSON(returnPojo: true) gives plain, serializable maps and lists, as JsonSlurperClassic does.
            new JsonSlurperClassic().parseText(args.text != null ? args.text.toString() : workspaceFile(args.file.toString()).text)
        })
        helper.registerAllowedMethod('readFile', [String], { String path -> workspaceFile(path).getText('UTF-8') })
        helper.registerAllowedMethod('readFile', [Map], { Map args -> workspaceFile(args.file.toString()).getText('UTF-8') })
        helper.registerAllowedMethod('writeFile', [Map], { Map args ->
            File f = workspaceFile(args.file.toString())
            f.parentFile.mkdirs()
            f.setText(args.text.toString(), 'UTF-8')
        })
        helper.registerAllowedMethod('fileExists', [String], { String path -> workspaceFile(path).exists() })
        helper.registerAllowedMethod('input', [Map], { Map args -> ask(args) })
        ['archiveArtifacts', 'junit', 'build', 'publishHTML', 'jobDsl', 'addBadge', 'addShortText', 'checkout'].each { String name ->
            helper.registerAllowedMethod(name, [Map], null)
        }
        helper.registerAllowedMethod('checkout', [Object], null)
        helper.registerAllowedMethod('properties', [List], null)
        helper.registerAllowedMethod('parameters', [List], { List args -> [kind: 'parameters', definitions: args] })
        helper.registerAllowedMethod('pipelineTriggers', [List], { List args -> [kind: 'pipelineTriggers', triggers: args] })
        helper.registerAllowedMethod('cron', [String], { String spec -> [kind: 'cron', spec: spec] })
        registerDirectives()
        helper.registerAllowedMethod('pipeline', [Closure], { Closure body ->
            Map<String, Closure> steps = [
                node   : { String label, Closure b -> inNode(b) },
                withEnv: { List entries, Closure b -> withEntries(entries, b) },
                input  : { Map args -> ask(args) },
                error  : { String message -> throw new PipelineAbort(message) },
                stage  : { String name, Closure b -> b.call() },
            ]
            new DeclarativeStandIn(steps, { Closure c -> helper.callClosure(c) }, readBlock).run(body)
        })
    }

    /** Directive blocks being read, innermost last (see registerDirectives). */
    List<SectionContext> directives = []

    /** Reads a Declarative directive block under CPS: its calls reach the script, which routes them here. */
    Closure readBlock = { Section section, Closure block ->
        directives << new SectionContext(section, readBlock)
        try {
            helper.callClosure(block)
        } finally {
            directives.remove(directives.size() - 1)
        }
    }

    /**
     * groovy-cps 1.12 resolves calls and bare names in a closure on the script, never on the
     * closure's delegate, so Declarative's directive blocks cannot be read through delegates as in
     * plain Groovy. Inside a block being read, the directive names are routed to the block's
     * SectionContext; outside, the names that are also steps (stage, string, cron) stay steps.
     */
    void registerDirectives() {
        binding.setVariable('any', 'any')
        binding.setVariable('none', 'none')
        Map<String, List<List<Class>>> signatures = [
            agent: [[Closure], [String]], stages: [[Closure]], stage: [[String, Closure]], steps: [[Closure]],
            post: [[Closure]], always: [[Closure]], success: [[Closure]], failure: [[Closure]],
            environment: [[Closure]], options: [[Closure]], parameters: [[Closure]], triggers: [[Closure]],
            when: [[Closure]], expression: [[Closure]], input: [[Closure]], label: [[String]], message: [[String]],
            ok: [[String]], submitter: [[String]], submitterParameter: [[String]], cron: [[String]], string: [[Map]],
            timestamps: [[]],
        ]
        Map<String, Closure> steps = [
            stage : { String name, Closure b -> helper.callClosure(b) },
            cron  : { String spec -> [kind: 'cron', spec: spec] },
            string: { Map args -> [kind: 'string'] + args },
        ]
        signatures.each { String name, List<List<Class>> all ->
            all.each { List<Class> types ->
                helper.registerAllowedMethod(name, types, { Object... args ->
                    if (directives) {
                        return directives.last().directive(name, args.toList())
                    }
                    if (steps[name]) {
                        return steps[name].call(*args)
                    }
                    throw new PipelineAbort("${name} is a Declarative directive, used outside pipeline { }")
                })
            }
        }
    }

    Object sh(Map args) {
        shells << [args: args, env: new LinkedHashMap(env), inNode: nodeDepth > 0]
        if (!env.SHIPMARK_STEP_COMMAND) {
            return otherShell.call(args)
        }
        assert args.script == STEP_SCRIPT: 'the helper must run as resources/dev/shipmark/run-shipmark.sh'
        assert args.returnStdout && args.label: 'the helper runs in one labelled sh step that returns its stdout'
        String command = env.SHIPMARK_STEP_COMMAND
        boolean bootstrapped = !env.SHIPMARK
        if (bootstrapped) {
            bootstraps++
        }
        String path = env.SHIPMARK ?: FAKE_HELPER
        if (command == 'locate') {
            return "shipmark-step located 0\n${path}\n".toString()
        }
        List argv = (List) new JsonSlurperClassic().parseText(env.SHIPMARK_ARGV)
        helperRuns << [command: command, argv: argv, env: new LinkedHashMap(env), bootstrapped: bootstrapped]
        Map reply = (Map) answer.call(command, argv)
        String printed = reply.json != null ? JsonOutput.toJson(reply.json) : ''
        if (env.SHIPMARK_SAVE_OUTPUT) {
            File saved = workspaceFile(env.SHIPMARK_SAVE_OUTPUT)
            saved.parentFile.mkdirs()
            saved.text = printed
        }
        return "shipmark-step command ${reply.status ?: 0}\n${path}\n${printed}".toString()
    }
}

/** What the `error` step throws (Jenkins: hudson.AbortException). */
class PipelineAbort extends RuntimeException {
    PipelineAbort(String message) {
        super(message)
    }
}
