import org.junit.Test

import static org.junit.Assert.assertEquals
import static org.junit.Assert.assertTrue

class RejectImageStepTests extends StepTestCase {

    static final String IMAGE = 'registry.example.com:5000/team/app@sha256:' + 'a' * 64
    static final String PREVIOUS = 'registry.example.com:5000/team/app@sha256:' + 'b' * 64
    static final String ROLLBACK = "shipmark rollback registry.example.com:5000/team/app --channel stable --reason 'leaks'"

    @Test
    void it_rejects_with_the_reason() {
        answer(reject: [status: 0, json: [image: IMAGE, digest: 'sha256:' + 'a' * 64, record: 'sha256:' + 'e' * 64]])
        assertEquals(IMAGE, h.runStep('rejectImage', [image: IMAGE, reason: 'corrupts data on upgrade']).image)
        assertEquals(['--reason=corrupts data on upgrade', '--', IMAGE], argvOf('reject'))
        ShipmarkRunnerTests.assertRanHelper(h, 'reject')
    }

    @Test
    void it_requires_image_and_reason() {
        assertEquals("rejectImage: the 'reason' argument is required", errorFrom { h.runStep('rejectImage', [image: IMAGE]) })
        assertEquals("rejectImage: the 'image' argument is required", errorFrom { h.runStep('rejectImage', [reason: 'x']) })
    }

    @Test
    void it_fails_on_unknown_argument() {
        assertEquals("rejectImage: unknown argument 'why'; valid arguments: image, reason, rollback, policy, credentialsId, jenkinsCredentialsId, signingKeyCredentialsId",
            errorFrom { h.runStep('rejectImage', [image: IMAGE, why: 'x']) })
    }

    @Test
    void it_fails_with_shipmarks_message() {
        answer(reject: [status: 4, json: [error: [type: 'NotFoundError', message: 'no such image', hint: null]]])
        assertEquals('rejectImage: no such image', errorFrom { h.runStep('rejectImage', [image: IMAGE, reason: 'x']) })
    }

    @Test
    void it_logs_each_channel_still_on_the_image_with_the_command_that_rolls_it_back() {
        answer(reject: [status: 0, json: [image: IMAGE, channels: [[channel: 'stable', rolled_back: false, rollback_command: ROLLBACK]]]])
        h.runStep('rejectImage', [image: IMAGE, reason: 'leaks'])
        assertEquals(['--reason=leaks', '--', IMAGE], argvOf('reject'))
        assertTrue(h.log.toString(), h.log.any {
            it == "rejectImage: channel 'stable' still points at the rejected image; roll it back with " +
                  "rejectImage(..., rollback: true) or: ${ROLLBACK}".toString()
        })
    }

    @Test
    void it_rolls_back_every_channel_on_the_image_when_told_to() {
        answer(reject: [status: 0, json: [image: IMAGE, channels: [[channel: 'stable', rolled_back: true, rollback_command: null]],
                                          rollbacks: [[channel: 'stable', from: IMAGE, to: PREVIOUS]]]])
        h.runStep('rejectImage', [image: IMAGE, reason: 'leaks', rollback: true, policy: 'ops/shipmark.yaml'])
        assertEquals(['--reason=leaks', '--rollback', '--policy=ops/shipmark.yaml', '--', IMAGE], argvOf('reject'))
        assertTrue(h.log.toString(), h.log.contains("rejectImage: rolled stable back to ${PREVIOUS}".toString()))
        assertTrue(h.log.toString(), !h.log.any { it.contains('still points at') })
    }

    @Test
    void it_fails_naming_each_channel_it_could_not_roll_back() {
        answer(reject: [status: 3, json: [image: IMAGE, channels: [[channel: 'stable', rolled_back: false, rollback_command: ROLLBACK]],
                                          rollbacks: [], not_rolled_back: [[channel: 'stable', type: 'NothingEligibleError',
            message: "channel 'stable' of registry.example.com:5000/team/app has no earlier member to roll back to",
            hint: 'promote a known good image with: shipmark promote IMAGE --to stable']]]])
        assertEquals(("rejectImage: ${IMAGE} is rejected, but could not roll back every channel that points at it: " +
                     "stable: channel 'stable' of registry.example.com:5000/team/app has no earlier member to roll back to\n" +
                     'hint: promote a known good image with: shipmark promote IMAGE --to stable').toString(),
            errorFrom { h.runStep('rejectImage', [image: IMAGE, reason: 'leaks', rollback: true]) })
    }

    @Test
    void it_refuses_a_policy_without_rollback() {
        assertEquals("rejectImage: 'policy' is used only with 'rollback: true'; add it, or leave 'policy' out",
            errorFrom { h.runStep('rejectImage', [image: IMAGE, reason: 'x', policy: 'shipmark.yaml']) })
        assertEquals("rejectImage: 'rollback' must be true or false, got the string 'yes'", errorFrom { h.runStep('rejectImage', [image: IMAGE, reason: 'x', rollback: 'yes']) })
    }
}
