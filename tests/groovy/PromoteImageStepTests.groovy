import org.junit.Test

import static org.junit.Assert.assertEquals
import static org.junit.Assert.assertFalse
import static org.junit.Assert.assertTrue

class PromoteImageStepTests extends StepTestCase {

    static final String IMAGE = 'registry.example.com:5000/team/app@sha256:' + 'a' * 64

    static final Map REFUSED = [status: 3, json: [error: [type: 'PolicyError', message: 'policy for stable not satisfied',
        hint: 'run the acceptance suite first', reasons: ['suite acceptance has no result', 'not promoted to qa-passed yet']]]]

    @Test
    void it_runs_promote_with_the_channel_and_the_image_after_double_dash() {
        answer(promote: [status: 0, json: [image: IMAGE, channel: 'stable', promoted: true]])
        assertTrue(h.runStep('promoteImage', [image: IMAGE, to: 'stable']) as boolean)
        assertEquals(['promote'], commands())
        assertEquals(['--to=stable', '--', IMAGE], argvOf('promote'))
        ShipmarkRunnerTests.assertRanHelper(h, 'promote')
    }

    @Test
    void it_passes_policy_copy_to_and_force_with_reason() {
        h.runStep('promoteImage', [image: IMAGE, to: 'stable', policy: 'ci/shipmark.yaml', copyTo: 'registry.example.com:5000/prod/app',
                                   force: true, reason: 'hotfix approved by ops'])
        assertEquals(['--to=stable', '--policy=ci/shipmark.yaml', '--copy-to=registry.example.com:5000/prod/app', '--force',
                      '--reason=hotfix approved by ops', '--', IMAGE], argvOf('promote'))
    }

    @Test
    void it_keeps_the_build_and_adds_a_badge_once_promoted() {
        h.runStep('promoteImage', [image: IMAGE, to: 'stable'])
        assertTrue(h.currentBuild.keepLog)
        assertEquals([[id: 'shipmark-channel-stable', text: '\u2605 stable']], h.callsOf('addBadge')*.args)
        assertEquals([], h.callsOf('addShortText'))
    }

    @Test
    void promotions_to_other_channels_keep_no_build() {
        h.runStep('promoteImage', [image: IMAGE, to: 'testing'])
        assertFalse(h.currentBuild.keepLog)
        assertFalse(argvOf('promote').any { it.startsWith('--keep-build-for') })
        assertEquals(1, h.callsOf('addBadge').size())
    }

    @Test
    void keep_channels_is_passed_on_so_the_producing_build_follows_it() {
        h.runStep('promoteImage', [image: IMAGE, to: 'testing', keepChannels: ['testing', 'stable']])
        assertTrue(h.currentBuild.keepLog)
        assertTrue(argvOf('promote').contains('--keep-build-for=testing,stable'))
        h.runStep('promoteImage', [image: IMAGE, to: 'stable', keepLog: false])
        assertTrue(argvOf('promote', 1).contains('--keep-build-for='))
    }

    @Test
    void badge_falls_back_to_add_short_text_of_badge_1() {
        h.absentSteps << 'addBadge'
        h.runStep('promoteImage', [image: IMAGE, to: 'stable'])
        assertEquals([[text: '\u2605 stable']], h.callsOf('addShortText')*.args)
    }

    @Test
    void approval_asked_outside_node_is_recorded_as_the_actor() {
        h.runStep('promoteImage', [image: IMAGE, to: 'stable', approvedBy: 'alice'])
        assertEquals([], h.callsOf('input'))
        assertEquals(['promote'], commands())
        assertEquals('alice via https://jenkins.example.com/job/app/7/', h.helperRuns[0].env.SHIPMARK_BY)
        assertTrue(errorFrom { h.runStep('promoteImage', [image: IMAGE, to: 'stable', approvedBy: 'alice', approve: [submitter: 'x']]) }
            .contains("either 'approve'"))
    }

    @Test
    void it_can_leave_keep_log_and_badge_alone() {
        h.runStep('promoteImage', [image: IMAGE, to: 'stable', keepLog: false, badge: false])
        assertFalse(h.currentBuild.keepLog)
        assertEquals([], h.callsOf('addBadge'))
    }

    @Test
    void it_fails_with_the_policy_reasons_when_refused() {
        answer(promote: REFUSED)
        String message = errorFrom { h.runStep('promoteImage', [image: IMAGE, to: 'stable']) }
        assertEquals("promoteImage: ${IMAGE} may not be promoted to stable: suite acceptance has no result; not promoted to qa-passed yet".toString(), message)
        assertFalse(h.currentBuild.keepLog)
    }

    @Test
    void it_returns_false_on_refusal_when_told_not_to_fail() {
        answer(promote: REFUSED)
        assertEquals(false, h.runStep('promoteImage', [image: IMAGE, to: 'stable', failOnRefusal: false]))
        assertTrue(h.log.any { it.contains('suite acceptance has no result') })
        assertFalse(h.currentBuild.keepLog)
        assertEquals([], h.callsOf('addBadge'))
    }

    @Test
    void it_fails_with_shipmarks_message_and_hint_on_other_errors() {
        answer(promote: [status: 5, json: [error: [type: 'AuthError', message: 'registry.example.com:5000 refused the credentials',
                                                   hint: 'check the credentials in credentialsId']]])
        assertEquals('promoteImage: registry.example.com:5000 refused the credentials\nhint: check the credentials in credentialsId',
            errorFrom { h.runStep('promoteImage', [image: IMAGE, to: 'stable', failOnRefusal: false]) })
    }

    @Test
    void it_only_checks_on_a_dry_run() {
        assertTrue(h.runStep('promoteImage', [image: IMAGE, to: 'stable', dryRun: true]) as boolean)
        assertEquals(['--to=stable', '--dry-run', '--', IMAGE], argvOf('promote'))
        assertFalse(h.currentBuild.keepLog)
        assertEquals([], h.callsOf('addBadge'))
    }

    @Test
    void it_checks_then_asks_then_promotes_recording_the_approver() {
        h.onInput = { Map args -> 'alice' }
        h.runStep('promoteImage', [image: IMAGE, to: 'stable', approve: [submitter: 'alice,release-managers', message: 'Ship it?']])
        assertEquals(['promote', 'promote'], commands())
        assertEquals(['--to=stable', '--dry-run', '--', IMAGE], argvOf('promote', 0))
        assertEquals(['--to=stable', '--', IMAGE], argvOf('promote', 1))
        assertEquals([[message: 'Ship it?', ok: 'Promote to stable', submitterParameter: 'SHIPMARK_APPROVER',
                       submitter: 'alice,release-managers']], h.callsOf('input')*.args)
        assertEquals('alice via https://jenkins.example.com/job/app/7/', h.helperRuns[1].env.SHIPMARK_BY)
        assertEquals(null, h.helperRuns[0].env.SHIPMARK_BY)
    }

    @Test
    void it_asks_with_a_default_message_when_none_is_given() {
        h.runStep('promoteImage', [image: IMAGE, to: 'stable', approve: [submitter: 'alice']])
        assertEquals("Promote ${IMAGE} to stable?".toString(), h.callsOf('input')[0].args.message)
    }

    @Test
    void it_does_not_ask_about_an_image_the_policy_refuses() {
        answer(promote: REFUSED)
        String message = errorFrom { h.runStep('promoteImage', [image: IMAGE, to: 'stable', approve: [submitter: 'alice']]) }
        assertTrue(message, message.contains('suite acceptance has no result'))
        assertEquals([], h.callsOf('input'))
        assertEquals(1, h.helperRuns.size())
    }

    @Test
    void it_fails_on_unknown_argument() {
        assertEquals("promoteImage: unknown argument 'channel'; valid arguments: image, to, policy, approve, approvedBy, copyTo, dryRun, force, " +
            'reason, failOnRefusal, keepLog, keepChannels, badge, credentialsId, jenkinsCredentialsId, signingKeyCredentialsId',
            errorFrom { h.runStep('promoteImage', [image: IMAGE, channel: 'stable']) })
        assertEquals([], h.shells)
    }

    @Test
    void it_fails_on_unknown_approve_key() {
        assertEquals("promoteImage: approve: unknown argument 'submiter'; valid arguments: submitter, message",
            errorFrom { h.runStep('promoteImage', [image: IMAGE, to: 'stable', approve: [submiter: 'alice']]) })
    }

    @Test
    void it_requires_image_and_channel() {
        assertEquals("promoteImage: the 'image' argument is required", errorFrom { h.runStep('promoteImage', [to: 'stable']) })
        assertEquals("promoteImage: the 'to' argument is required", errorFrom { h.runStep('promoteImage', [image: IMAGE]) })
    }

    @Test
    void it_requires_a_reason_to_force() {
        assertEquals("promoteImage: 'force: true' needs a 'reason' (it is recorded with the promotion)",
            errorFrom { h.runStep('promoteImage', [image: IMAGE, to: 'stable', force: true]) })
        assertEquals([], h.shells)
    }

    @Test
    void it_binds_registry_and_jenkins_credentials_only_around_the_helper() {
        h.runStep('promoteImage', [image: IMAGE, to: 'stable', credentialsId: 'registry-creds', jenkinsCredentialsId: 'jenkins-creds'])
        Map env = h.helperRuns[0].env
        assertEquals('reg-user', env.SHIPMARK_REGISTRY_USERNAME)
        assertEquals('reg-secret-value', env.SHIPMARK_REGISTRY_PASSWORD)
        assertEquals('jenkins-bot', env.JENKINS_USER)
        assertEquals('jenkins-token-value', env.JENKINS_API_TOKEN)
        assertEquals(['registry-creds', 'jenkins-creds'], h.callsOf('usernamePassword')*.args*.credentialsId)
        assertFalse(h.currentEnv().containsKey('SHIPMARK_REGISTRY_PASSWORD'))
    }

    @Test
    void it_binds_the_signing_key_as_a_file_for_writing_commands() {
        h.runStep('promoteImage', [image: IMAGE, to: 'stable', signingKeyCredentialsId: 'signing-key', approve: [submitter: 'a']])
        assertEquals([[credentialsId: 'signing-key', variable: 'SHIPMARK_SIGNING_KEY']], h.callsOf('file')*.args.unique())
        h.helperRuns.each { assertTrue(new File(it.env.SHIPMARK_SIGNING_KEY).text.contains('PRIVATE KEY')) }
    }

    @Test
    void without_jenkins_credentials_the_helper_leaves_jenkins_alone() {
        h.runStep('promoteImage', [image: IMAGE, to: 'stable'])
        assertFalse(h.helperRuns[0].env.containsKey('JENKINS_URL'))
        h.runStep('promoteImage', [image: IMAGE, to: 'stable', jenkinsCredentialsId: 'jenkins-creds'])
        assertEquals('https://jenkins.example.com/', h.helperRuns[1].env.JENKINS_URL)
    }
}
