import dev.shipmark.ShipmarkRunner
import org.junit.Test

import static org.junit.Assert.assertEquals
import static org.junit.Assert.assertFalse
import static org.junit.Assert.assertTrue
import static org.junit.Assert.fail

/** How every step finds and runs the helper (through rejectImage, the simplest step). */
class ShipmarkRunnerTests extends StepTestCase {

    static final String IMAGE = 'registry.example.com:5000/team/app:1.4.2-b7.20261128.abc1234'

    /** The last `sh` step ran the helper script in step mode for this command, labelled after it. */
    static void assertRanHelper(PipelineHarness h, String command) {
        Map call = h.shells.last()
        assertEquals(PipelineHarness.STEP_SCRIPT, call.script)
        assertEquals(command, call.env.SHIPMARK_STEP_COMMAND)
        assertEquals("shipmark ${command}".toString(), h.callsOf('sh').last().args.label)
        assertTrue(h.callsOf('sh').last().args.returnStdout)
    }

    @Test
    void one_labelled_sh_step_finds_the_helper_and_runs_the_command() {
        h.runStep('rejectImage', [image: IMAGE, reason: 'crashes on start'])
        assertEquals(1, h.shells.size())
        assertRanHelper(h, 'reject')
        Map runEnv = h.helperRuns[0].env
        assertTrue(h.helperRuns[0].bootstrapped)
        assertEquals(new File(PipelineHarness.ROOT, 'resources/dev/shipmark/VERSION').text.trim(), runEnv.SHIPMARK_LIBRARY_VERSION)
        assertEquals('["--reason=crashes on start","--",' + groovy.json.JsonOutput.toJson(IMAGE) + ']', runEnv.SHIPMARK_ARGV)
        assertEquals(['withEnv', 'sh', 'readJSON'], h.calls*.step.findAll { !(it in ['libraryResource', 'echo']) })
        assertEquals(0, h.callsOf('writeFile').size() + h.callsOf('readFile').size() + h.callsOf('fileExists').size())
    }

    @Test
    void it_finds_the_helper_once_per_step_call() {
        answer(plan: [status: 0, json: [services: [[name: 'app', image: IMAGE]]]])
        h.runStep('deployStable', [target: 'stable-server', template: 'deploy/compose.yml.j2', apply: './apply.sh'])
        assertEquals(['plan', 'render', 'deployed'], commands())
        assertEquals([true, false, false], h.helperRuns*.bootstrapped)
        assertEquals([PipelineHarness.FAKE_HELPER_PATH] * 2, h.helperRuns.drop(1)*.env*.SHIPMARK)
        assertEquals(2, h.callsOf('libraryResource').size())
    }

    @Test
    void with_shipmark_finds_the_helper_once_and_binds_credentials_once() {
        recordWrites('shipmark: app')
        h.loadStep('withShipmark').call([credentialsId: 'registry-creds', jenkinsCredentialsId: 'jenkins-creds',
                                         signingKeyCredentialsId: 'signing-key']) {
            h.runStep('recordImage', [image: IMAGE])
            h.runStep('markImage', [image: IMAGE, suite: 'unit', result: 'passed'])
            h.runStep('promoteImage', [image: IMAGE, to: 'testing'])
        }
        assertEquals(1, h.bootstraps)
        assertEquals(['shipmark: find the helper', 'shipmark record', 'shipmark mark', 'shipmark promote'], h.callsOf('sh')*.args*.label)
        assertEquals(1, h.callsOf('withCredentials').size())
        h.helperRuns.each { Map run ->
            assertEquals(PipelineHarness.FAKE_HELPER_PATH, run.env.SHIPMARK)
            assertEquals('reg-secret-value', run.env.SHIPMARK_REGISTRY_PASSWORD)
            assertEquals('https://jenkins.example.com/', run.env.JENKINS_URL)
            assertTrue(run.env.SHIPMARK_SIGNING_KEY.endsWith('secretFiles/signing-key'))
        }
        assertFalse(h.currentEnv().containsKey('SHIPMARK'))
    }

    @Test
    void with_shipmark_needs_a_block_and_known_arguments() {
        assertTrue(errorFrom { h.runStep('withShipmark', [credentialsId: 'registry-creds']) }.startsWith('withShipmark: needs a block'))
        assertTrue(errorFrom { h.runStep('withShipmark', [credentials: 'x']) }.startsWith("withShipmark: unknown argument 'credentials'"))
        assertEquals([], h.shells)
    }

    @Test
    void it_fails_clearly_when_the_helper_cannot_be_found_or_installed() {
        h.bootstrapStatus = 127
        String message = errorFrom { h.runStep('rejectImage', [image: IMAGE, reason: 'bad']) }
        assertTrue(message, message.startsWith('rejectImage: could not find or install the shipmark helper (run-shipmark.sh exited with 127'))
        assertTrue(message, message.contains('SHIPMARK_PIP_SPEC'))
        assertEquals(1, h.shells.size())
    }

    @Test
    void it_reports_the_exit_status_when_the_helper_printed_no_json() {
        answer(reject: [status: 1, raw: 'Traceback (most recent call last): ...'])
        assertEquals('rejectImage: shipmark exited with status 1 (unexpected error in shipmark (a bug)) and printed no JSON error; see the log above',
            errorFrom { h.runStep('rejectImage', [image: IMAGE, reason: 'bad']) })
        answer(reject: [status: 4, raw: ''])
        assertTrue(errorFrom { h.runStep('rejectImage', [image: IMAGE, reason: 'bad']) }.contains('status 4 (not found)'))
    }

    @Test
    void it_maps_exit_code_2_4_5_to_shipmarks_message() {
        [2: 'InputError', 4: 'NotFoundError', 5: 'RegistryError'].each { int status, String type ->
            answer(reject: [status: status, json: [error: [type: type, message: "message for ${status}".toString(), hint: null]]])
            assertEquals("rejectImage: message for ${status}".toString(), errorFrom { h.runStep('rejectImage', [image: IMAGE, reason: 'bad']) })
        }
    }

    @Test
    void it_only_runs_commands_it_knows() {
        try {
            ShipmarkRunner.label('promote; rm -rf /')
            fail('expected IllegalArgumentException')
        } catch (IllegalArgumentException expected) {
            assertTrue(expected.message.contains('not a shipmark command'))
        }
        assertEquals('shipmark board', ShipmarkRunner.label('board'))
    }

    @Test
    void it_says_so_when_the_badge_plugin_is_missing() {
        h.absentSteps << 'addBadge'
        h.absentSteps << 'addShortText'
        recordWrites('app 1.4.2')
        h.runStep('recordImage', [image: IMAGE])
        assertTrue(h.log.contains('recordImage: the Badge plugin is not installed; no badge added'))
    }
}
