import groovy.json.JsonSlurper
import org.junit.Before
import org.junit.Test

import static org.junit.Assert.assertEquals
import static org.junit.Assert.assertFalse
import static org.junit.Assert.assertTrue

/**
 * The steps with `sh` executing for real in bash (as `sh -xe`, like the sh step), the bootstrap
 * script finding a stand-in `shipmark` on PATH (tests/groovy/fixtures/fake-helper), which logs
 * what it received. Proves that hostile values stay data all the way into a real process, that
 * exit codes map from a real process, and that `-x` tracing shows no values or secrets.
 */
class RealShellTests extends StepTestCase {

    static final File FAKE_HELPER_DIR = new File(PipelineHarness.ROOT, 'tests/groovy/fixtures/fake-helper')
    static final String IMAGE = 'registry.example.com:5000/team/app@sha256:' + 'a' * 64

    File marker
    File helperLog

    @Before
    void realShell() {
        h.realShell = true
        h.baseEnv.PATH = "${FAKE_HELPER_DIR.path}:${System.getenv('PATH')}".toString()
        helperLog = new File(h.tmpDir, 'fake-shipmark.log')
        h.baseEnv.FAKE_SHIPMARK_LOG = helperLog.path
        marker = new File(h.workspace, 'pwned-marker')
    }

    List<Map> helperCalls() {
        return helperLog.exists() ? helperLog.readLines().collect { (Map) new JsonSlurper().parseText(it) } : []
    }

    List<String> hostile() {
        return ["\$(touch ${marker.path})".toString(), "`touch ${marker.path}`".toString(), "'; touch ${marker.path} #".toString(),
                "\"; touch ${marker.path}; echo \"".toString(), "x\ntouch ${marker.path}".toString(), '--to=production']
    }

    @Test
    void the_bootstrap_finds_shipmark_on_path_and_the_step_runs_it() {
        Map json = h.runStep('rejectImage', [image: IMAGE, reason: 'broken'])
        assertEquals('reject', json.command)
        assertEquals(IMAGE, json.image)
        assertEquals([reason: ['broken']], json.options)
        assertEquals(['reject', '--json', '--args-file'], helperCalls()[0].argv.take(3))
    }

    @Test
    void a_shipmark_on_path_of_another_version_is_passed_over_for_a_virtualenv_of_the_librarys() {
        String version = new File(PipelineHarness.ROOT, 'resources/dev/shipmark/VERSION').text.trim()
        File venvs = new File(h.tmpDir, 'venvs')
        h.baseEnv.FAKE_SHIPMARK_VERSION = '0.0.9'
        h.baseEnv.SHIPMARK_PYTHON = new File(PipelineHarness.ROOT, 'tests/groovy/fixtures/fake-python/python').path
        h.baseEnv.SHIPMARK_VENV_ROOT = venvs.path
        String located = h.loadStep('withShipmark').call([:]) { h.currentEnv().SHIPMARK }
        assertTrue(located, located.startsWith("${venvs.path}/${version}-".toString()))
        assertEquals("shipmark ${version}\n".toString(), [located, '--version'].execute().text)
        assertTrue(h.log.join('\n'), h.log.join('\n').contains("not using ${FAKE_HELPER_DIR.path}/shipmark: it reports 'shipmark 0.0.9'".toString()))
    }

    @Test
    void hostile_values_reach_the_real_helper_unchanged_and_nothing_runs() {
        hostile().each { String value ->
            h.runStep('promoteImage', [image: value, to: value, reason: value, force: true, policy: value, copyTo: value, badge: false])
            h.runStep('markImage', [image: value, suite: value, junit: [value], url: value, configuration: value])
            h.runStep('recordImage', [image: value, gitBranch: value, materials: [value], badge: false])
            h.runStep('rejectImage', [image: value, reason: value])
        }
        assertFalse("a value was executed: ${marker} exists", marker.exists())
        List<Map> calls = helperCalls()
        assertEquals(hostile().size() * 4, calls.size())
        hostile().eachWithIndex { String value, int i ->
            List<Map> mine = calls.subList(i * 4, i * 4 + 4)
            assertEquals(["--to=${value}", "--policy=${value}", "--copy-to=${value}", '--force', "--reason=${value}", '--', value]*.toString(), mine[0].args)
            assertEquals(["--suite=${value}", "--junit=${value}", "--url=${value}", "--configuration=${value}", '--', value]*.toString(), mine[1].args)
            assertEquals(['--out-dir=shipmark', "--git-branch=${value}", "--material=${value}", '--', value]*.toString(), mine[2].args)
            assertEquals(["--reason=${value}", '--', value]*.toString(), mine[3].args)
        }
    }

    @Test
    void the_users_apply_command_gets_hostile_values_only_as_environment() {
        String value = "\$(touch ${marker.path}) dir"
        String apply = 'test -d "$SHIPMARK_RENDER_DIR" && printf "%s|%s" "$SHIPMARK_RENDER_DIR" "$SHIPMARK_TARGET" > applied.txt'
        Map deployed = h.runStep('deployStable', [target: value, template: value, outDir: value, apply: apply])
        assertFalse(marker.exists())
        assertEquals("${value}|${value}".toString(), h.file('applied.txt').text)
        assertEquals(['registry.example.com:5000/team/app@sha256:' + 'e' * 64], deployed.values() as List)
        assertEquals(['plan', 'render', 'deployed'], helperCalls()*.command)
    }

    @Test
    void exit_3_from_a_real_process_becomes_the_documented_refusal() {
        assertEquals(false, h.runStep('promoteImage', [image: IMAGE, to: 'refuse', failOnRefusal: false]))
        assertEquals("promoteImage: ${IMAGE} may not be promoted to refuse: suite acceptance failed; rejected".toString(),
            errorFrom { h.runStep('promoteImage', [image: IMAGE, to: 'refuse']) })
    }

    @Test
    void other_exit_codes_fail_with_shipmarks_message() {
        assertEquals('markImage: registry answered 503 twice\nhint: try again later',
            errorFrom { h.runStep('markImage', [image: IMAGE, suite: 'boom', result: 'passed']) })
    }

    @Test
    void credentials_reach_the_helper_but_never_the_log() {
        h.runStep('promoteImage', [image: IMAGE, to: 'stable', credentialsId: 'registry-creds', jenkinsCredentialsId: 'jenkins-creds'])
        Map call = helperCalls()[0]
        assertTrue(call.registry_credentials as boolean)
        assertTrue(call.jenkins_credentials as boolean)
        String log = h.log.join('\n')
        String trace = log.readLines().findAll { it.startsWith('+ ') }.join('\n')
        // The helper script has a #! line, so the sh step runs it with bash and without -x tracing.
        assertTrue(PipelineHarness.STEP_SCRIPT.startsWith('#!/usr/bin/env bash\n'))
        assertEquals(['promote', '--json', '--args-file'], call.argv.take(3))
        ['reg-secret-value', 'jenkins-token-value'].each { assertFalse("${it} appears in the log", log.contains(it)) }
        assertFalse('a value appears in the sh -x trace', trace.contains(IMAGE))
    }

    @Test
    void record_archives_and_describes_from_the_files_the_helper_wrote() {
        h.runStep('recordImage', [image: IMAGE])
        assertEquals("recorded ${IMAGE}".toString(), h.currentBuild.description)
        assertEquals([], h.tmpDir.listFiles().findAll { it.name.startsWith('shipmark') }*.name)
        assertTrue(h.file('shipmark/provenance.json').exists())
        assertEquals([[artifacts: 'shipmark/provenance.json', fingerprint: true]], h.callsOf('archiveArtifacts')*.args)
    }
}
