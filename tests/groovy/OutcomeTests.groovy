import dev.shipmark.ImageLabel
import dev.shipmark.Outcome
import dev.shipmark.Plan
import org.junit.Test

import static org.junit.Assert.assertEquals
import static org.junit.Assert.assertFalse
import static org.junit.Assert.assertTrue

class OutcomeTests {

    @Test
    void exit_0_is_ok_and_3_is_a_refusal() {
        assertTrue(new Outcome(0, [:]).ok)
        assertTrue(new Outcome(3, null).refused)
        assertFalse(new Outcome(3, null).ok)
        assertFalse(new Outcome(5, null).refused)
    }

    @Test
    void messages_come_from_shipmarks_error_document() {
        Outcome outcome = new Outcome(5, [error: [type: 'RegistryError', message: 'registry answered 503', hint: 'retry later']])
        assertEquals('registry answered 503', outcome.message)
        assertEquals('promoteImage: registry answered 503\nhint: retry later', outcome.failure('promoteImage'))
    }

    @Test
    void without_json_the_message_names_the_exit_status() {
        assertEquals('shipmark exited with status 127 (the shipmark helper was not found) and printed no JSON error; see the log above',
            new Outcome(127, null).message)
        assertEquals('shipmark exited with status 9 (failed) and printed no JSON error; see the log above', new Outcome(9, [:]).message)
    }

    @Test
    void refusals_list_the_policy_reasons() {
        Outcome outcome = new Outcome(3, [error: [message: 'policy not satisfied', reasons: ['suite unit failed', 'rejected']]])
        assertEquals(['suite unit failed', 'rejected'], outcome.reasons)
        assertEquals('promoteImage: x may not go: suite unit failed; rejected', outcome.refusal('promoteImage', 'x may not go'))
        assertEquals('s: w: policy not satisfied', new Outcome(3, [error: [message: 'policy not satisfied']]).refusal('s', 'w'))
        assertEquals(['too young'], new Outcome(0, [reasons: ['too young']]).reasons)
    }

    @Test
    void image_labels_show_the_tag_else_a_short_digest() {
        assertEquals('1.4.2-b7', ImageLabel.of('registry.example.com:5000/team/app:1.4.2-b7'))
        assertEquals('0123456789ab', ImageLabel.of('registry.example.com:5000/team/app@sha256:0123456789abcdef'))
        assertEquals('0123456789ab', ImageLabel.of('registry.example.com:5000/team/app', 'sha256:0123456789abcdef'))
        assertEquals('1.0', ImageLabel.of('reg:5000/app:1.0@sha256:0123456789abcdef'))
    }

    @Test
    void plans_give_images_missing_services_and_a_summary() {
        Map plan = [services: [[name: 'api', image: 'r/api@sha256:1', deployed: 'r/api@sha256:0', change: 'update'],
                               [name: 'web', image: null, deployed: 'r/web@sha256:2', reasons: ["channel 'stable' of r/web has no member"]],
                               [name: 'db', image: null], [image: 'no-name']]]
        assertEquals([api: 'r/api@sha256:1'], Plan.images(plan))
        assertEquals(['web', 'db'], Plan.missing(plan))
        assertEquals(["web: channel 'stable' of r/web has no member", 'db'], Plan.gaps(plan))
        assertEquals(['api: r/api@sha256:1 (update from r/api@sha256:0)',
                      "web: no image (keeps r/web@sha256:2): channel 'stable' of r/web has no member", 'db: no image'],
                     Plan.summary(plan))
        assertEquals([:], Plan.images(null))
    }
}
