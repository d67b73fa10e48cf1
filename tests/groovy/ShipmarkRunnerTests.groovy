import dev.shipmark.ShipmarkRunner
import org.junit.Test

import static org.junit.Assert.assertEquals
import static org.junit.Assert.assertTrue
import static org.junit.Assert.fail

/** How every step finds and runs the helper (through rejectImage, the simplest step). */
class ShipmarkRunnerTests extends StepTestCase {

    static final String IMAGE = 'registry.example.com:5000/team/app:1.4.2-b7.20261128.abc1234'

    /** The shell script a step runs for a helper command: constant apart from the command name. */
    static String helperScript(String command) {
        return '"$SHIPMARK" ' + command + ' --json --args-file "$SHIPMARK_ARGS" > "$SHIPMARK_OUT"'
    }

    @Test
    void it_bootstraps_the_helper_from_the_library_resource_then_runs_the_command() {
        h.runStep('rejectImage', [image: IMAGE, reason: 'crashes on start'])
        assertEquals(['bash "$SHIPMARK_BOOTSTRAP" > "$SHIPMARK_HELPER_FILE"', helperScript('reject')], h.scripts())
        Map bootstrapEnv = h.shells[0].env
        String bootstrap = bootstrapEnv.SHIPMARK_BOOTSTRAP
        assertEquals(new File(h.tmpDir, 'run-shipmark.sh').path, bootstrap)
        assertEquals(new File(PipelineHarness.ROOT, 'resources/dev/shipmark/run-shipmark.sh').text, new File(bootstrap).text)
        assertEquals(new File(PipelineHarness.ROOT, 'resources/dev/shipmark/VERSION').text.trim(), bootstrapEnv.SHIPMARK_LIBRARY_VERSION)
        Map runEnv = h.helperRuns[0].env
        assertEquals(PipelineHarness.FAKE_HELPER_PATH, runEnv.SHIPMARK)
        assertTrue(runEnv.SHIPMARK_ARGS.startsWith(h.tmpDir.path + '/shipmark-rejectImage-reject-'))
        assertTrue(runEnv.SHIPMARK_OUT.startsWith(h.tmpDir.path + '/'))
    }

    @Test
    void it_bootstraps_once_per_step_call() {
        answer(plan: [status: 0, json: [services: [[name: 'app', image: IMAGE]]]])
        h.runStep('deployStable', [target: 'stable-server', template: 'deploy/compose.yml.j2', apply: './apply.sh'])
        assertEquals(1, h.scripts().count { it.contains('SHIPMARK_BOOTSTRAP') })
        assertEquals(['plan', 'render', 'deployed'], commands())
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
            ShipmarkRunner.commandLine('promote; rm -rf /')
            fail('expected IllegalArgumentException')
        } catch (IllegalArgumentException expected) {
            assertTrue(expected.message.contains('not a shipmark command'))
        }
        assertEquals(helperScript('board'), ShipmarkRunner.commandLine('board'))
    }

    @Test
    void it_says_so_when_the_badge_plugin_is_missing() {
        h.absentSteps << 'addShortText'
        recordWrites('app 1.4.2')
        h.runStep('recordImage', [image: IMAGE])
        assertTrue(h.log.contains('recordImage: the Badge plugin is not installed; no badge added'))
    }
}
