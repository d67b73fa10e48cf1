import org.junit.Test

import static org.junit.Assert.assertEquals

class RejectImageStepTests extends StepTestCase {

    static final String IMAGE = 'registry.example.com:5000/team/app@sha256:' + 'a' * 64

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
        assertEquals("rejectImage: unknown argument 'why'; valid arguments: image, reason, credentialsId, jenkinsCredentialsId, signingKeyCredentialsId",
            errorFrom { h.runStep('rejectImage', [image: IMAGE, why: 'x']) })
    }

    @Test
    void it_fails_with_shipmarks_message() {
        answer(reject: [status: 4, json: [error: [type: 'NotFoundError', message: 'no such image', hint: null]]])
        assertEquals('rejectImage: no such image', errorFrom { h.runStep('rejectImage', [image: IMAGE, reason: 'x']) })
    }
}
