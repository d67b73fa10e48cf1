import org.junit.Test

import static org.junit.Assert.assertEquals
import static org.junit.Assert.assertFalse
import static org.junit.Assert.assertTrue
import static org.junit.Assert.fail

/** Every vars/ step under the CPS interpreter, through `@Library('shipmark') _` and `node { }`. */
class CpsStepsTests extends CpsTestCase {

    static final String IMAGE = 'registry.example.com:5000/team/app@sha256:' + 'a' * 64
    static final Map PLAN = [services: [[name: 'app', image: IMAGE, change: 'update']]]

    String errorOf(Closure body) {
        try {
            body.call()
        } catch (PipelineAbort e) {
            return e.message
        }
        fail('expected the pipeline to fail with error(...)')
        return null
    }

    @Test
    void record_image_records_archives_describes_and_badges() {
        answer = { String command, List argv ->
            File out = workspaceFile('shipmark')
            out.mkdirs()
            new File(out, 'provenance.json').text = '{}'
            new File(out, 'description.txt').text = 'shipmark: app:1.4.2'
            [status: 0, json: [image: IMAGE, digest: 'sha256:' + 'a' * 64, files: ['shipmark/provenance.json', 'shipmark/description.txt']]]
        }
        build.description = 'my notes'
        Map json = (Map) runStep('recordImage', [image: IMAGE, credentialsId: 'docker-registry', signingKeyCredentialsId: 'signing-key'])
        assertEquals(IMAGE, json.image)
        assertEquals(['record'], commands())
        assertEquals('my notes\n\nshipmark: app:1.4.2', build.description)
        assertEquals(1, callsOf('addBadge').size())
        assertEquals('registry-password', helperRuns[0].env.SHIPMARK_REGISTRY_PASSWORD)
        assertTrue(helperRuns[0].env.SHIPMARK_SIGNING_KEY.endsWith('secretFiles/signing-key'))
        assertFalse(helperRuns[0].env.containsKey('JENKINS_URL'))
    }

    @Test
    void mark_image_marks_a_result() {
        answer = { String command, List argv -> [status: 0, json: [image: IMAGE, result: 'passed', counts: [passed: 3]]] }
        Map json = (Map) runStep('markImage', [image: IMAGE, suite: 'unit', junit: 'reports/*.xml', jenkinsCredentialsId: 'jenkins-api'])
        assertEquals('passed', json.result)
        assertEquals(['--suite=unit', '--junit=reports/*.xml', '--', IMAGE], argvOf('mark'))
        assertEquals('https://jenkins.example.com/', helperRuns[0].env.JENKINS_URL)
        assertTrue(log.toString(), log.contains("markImage: unit passed (3 passed) on ${IMAGE}".toString()))
    }

    @Test
    void promote_image_promotes_keeps_and_badges() {
        assertEquals(true, runStep('promoteImage', [image: IMAGE, to: 'stable']))
        assertEquals(['--to=stable', '--', IMAGE], argvOf('promote'))
        assertTrue(build.keepLog as boolean)
        assertEquals(1, callsOf('addBadge').size())
    }

    @Test
    void promote_image_asks_inside_the_step_when_told_to() {
        assertEquals(true, runStep('promoteImage', [image: IMAGE, to: 'stable', approve: [submitter: 'release-managers']]))
        assertEquals(['promote', 'promote'], commands())
        assertEquals(['--to=stable', '--dry-run', '--', IMAGE], argvOf('promote', 0))
        assertEquals('alice via https://jenkins.example.com/job/app/7/', helperRuns[1].env.SHIPMARK_BY)
        assertEquals([true, false], helperRuns*.bootstrapped)
    }

    @Test
    void promote_image_returns_false_on_a_refusal_when_told_to() {
        answer = { String command, List argv -> [status: 3, json: [error: [message: 'policy not satisfied', reasons: ['suite acceptance failed']]]] }
        assertEquals(false, runStep('promoteImage', [image: IMAGE, to: 'stable', failOnRefusal: false]))
        assertEquals("promoteImage: ${IMAGE} may not be promoted to stable: suite acceptance failed".toString(),
            errorOf { runStep('promoteImage', [image: IMAGE, to: 'stable']) })
        assertFalse(build.keepLog as boolean)
    }

    @Test
    void reject_image_rejects() {
        runStep('rejectImage', [image: IMAGE, reason: 'crashes on start'])
        assertEquals(['--reason=crashes on start', '--', IMAGE], argvOf('reject'))
    }

    @Test
    void reject_image_rolls_back_and_fails_on_a_channel_it_could_not_roll_back() {
        String previous = 'registry.example.com:5000/team/app@sha256:' + 'b' * 64
        answer = { String command, List argv ->
            [status: 0, json: [image: IMAGE, channels: [[channel: 'stable', rolled_back: true, rollback_command: null]],
                               rollbacks: [[channel: 'stable', from: IMAGE, to: previous]]]]
        }
        Map json = (Map) runStep('rejectImage', [image: IMAGE, reason: 'crashes on start', rollback: true])
        assertEquals(['--reason=crashes on start', '--rollback', '--', IMAGE], argvOf('reject'))
        assertEquals(previous, json.rollbacks[0].to)
        assertTrue(log.toString(), log.contains("rejectImage: rolled stable back to ${previous}".toString()))
        answer = { String command, List argv ->
            [status: 3, json: [image: IMAGE, channels: [[channel: 'testing', rolled_back: false, rollback_command: 'x']],
                               not_rolled_back: [[channel: 'testing', message: 'no earlier member', hint: 'promote one']]]]
        }
        assertEquals(("rejectImage: ${IMAGE} is rejected, but could not roll back every channel that points at it: " +
                     'testing: no earlier member\nhint: promote one').toString(),
            errorOf { runStep('rejectImage', [image: IMAGE, reason: 'crashes on start', rollback: true]) })
    }

    @Test
    void stable_images_reads_the_plan() {
        answer = { String command, List argv -> [status: 0, json: PLAN] }
        assertEquals([app: IMAGE], runStep('stableImages', [:]))
    }

    @Test
    void deploy_stable_plans_renders_applies_and_records() {
        answer = { String command, List argv -> [status: 0, json: command == 'plan' ? PLAN : [:]] }
        assertEquals([app: IMAGE], runStep('deployStable', [target: 'stable-server', template: 'deploy/t.j2', apply: './apply.sh']))
        assertEquals(['plan', 'render', 'deployed'], commands())
        assertTrue(argvOf('render').contains('--plan=shipmark/plan.json'))
        assertEquals(1, shells.count { it.args.script == './apply.sh' })
    }

    @Test
    void deploy_stable_rolls_back_when_apply_fails() {
        answer = { String command, List argv -> [status: 0, json: command == 'plan' ? PLAN : [:]] }
        List<Integer> statuses = [1, 0]
        otherShell = { Map args -> statuses.remove(0) }
        assertTrue(errorOf { runStep('deployStable', [target: 'stable-server', template: 'deploy/t.j2', apply: './apply.sh']) }
            .startsWith('deployStable: apply failed with exit status 1; rolled back'))
        assertTrue(argvOf('deployed').contains('--rollback'))
    }

    @Test
    void release_board_writes_and_publishes() {
        runStep('releaseBoard', [out: 'reports/board.html'])
        assertEquals(['board'], commands())
        assertEquals([reportDir: 'reports', reportFiles: 'board.html', reportName: 'Release board', keepAll: true,
                      alwaysLinkToLastBuild: true, allowMissing: false], callsOf('publishHTML')[0].args[0].target)
    }

    @Test
    void with_shipmark_finds_the_helper_once_for_the_steps_inside() {
        String text = """@Library('shipmark') _
node {
    withShipmark(credentialsId: 'docker-registry', jenkinsCredentialsId: 'jenkins-api', signingKeyCredentialsId: 'signing-key') {
        markImage(image: '${IMAGE}', suite: 'unit', result: 'passed')
        promoteImage(image: '${IMAGE}', to: 'testing')
    }
}
"""
        runText(text, 'with_shipmark')
        assertEquals(['mark', 'promote'], commands())
        assertEquals(1, bootstraps)
        String fake = FAKE_HELPER
        assertTrue(helperRuns.every { it.env.SHIPMARK == fake && it.env.JENKINS_API_TOKEN == 'jenkins-token-value' })
        assertEquals(1, callsOf('withCredentials').size())
    }

    @Test
    void a_bad_argument_fails_before_any_shell() {
        assertTrue(errorOf { runStep('rejectImage', [image: IMAGE]) }.contains("the 'reason' argument is required"))
        assertEquals([], shells)
    }
}
