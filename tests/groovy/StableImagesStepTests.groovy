import org.junit.Test

import static org.junit.Assert.assertEquals
import static org.junit.Assert.assertTrue

class StableImagesStepTests extends StepTestCase {

    static String image(String name, String hex) {
        return "registry.example.com:5000/team/${name}@sha256:${hex * 64}".toString()
    }

    static final Map PLAN = [channel: 'stable', target: null, services: [
        [name: 'api', repo: 'registry.example.com:5000/team/api', image: image('api', 'a'), tag: '1.4.2-b7.20261128.abc1234', change: 'update'],
        [name: 'web', repo: 'registry.example.com:5000/team/web', image: image('web', 'b'), tag: '2.0.0-b3.20261127.def5678', change: 'none'],
    ]]

    @Test
    void it_plans_the_channel_and_returns_service_to_image() {
        answer(plan: [status: 0, json: PLAN])
        assertEquals([api: image('api', 'a'), web: image('web', 'b')], h.runStep('stableImages', [:]))
        assertEquals(['--services=deploy/services.yaml', '--channel=stable'], argvOf('plan'))
        ShipmarkRunnerTests.assertRanHelper(h, 'plan')
    }

    @Test
    void it_passes_services_channel_and_policy() {
        answer(plan: [status: 0, json: PLAN])
        h.runStep('stableImages', [services: 'ops/services.yaml', channel: 'testing', policy: 'ops/shipmark.yaml'])
        assertEquals(['--services=ops/services.yaml', '--channel=testing', '--policy=ops/shipmark.yaml'], argvOf('plan'))
    }

    @Test
    void it_fails_when_a_service_has_no_eligible_image() {
        Map plan = [services: PLAN.services + [[name: 'worker', repo: 'registry.example.com:5000/team/worker', image: null,
                                                reasons: ["channel 'stable' of registry.example.com:5000/team/worker has no member"]]]]
        answer(plan: [status: 0, json: plan])
        assertEquals("stableImages: no image in channel stable for worker: channel 'stable' of registry.example.com:5000/team/worker " +
            'has no member (pass allowMissing: true to leave them out)',
            errorFrom { h.runStep('stableImages', [:]) })
    }

    @Test
    void it_leaves_out_services_without_an_image_when_allowed() {
        Map plan = [services: PLAN.services + [[name: 'worker', repo: 'registry.example.com:5000/team/worker', image: null]]]
        answer(plan: [status: 0, json: plan])
        assertEquals([api: image('api', 'a'), web: image('web', 'b')], h.runStep('stableImages', [allowMissing: true]))
        assertTrue(h.log.contains('stableImages: no image in channel stable, left out: worker'))
    }

    @Test
    void it_fails_with_the_reasons_when_nothing_is_eligible() {
        answer(plan: [status: 3, json: [error: [type: 'NothingEligibleError', message: 'nothing eligible for stable',
                                                reasons: ['api: 1.4.2-b7 failed acceptance', 'api: 1.4.1-b5 rejected']]]])
        assertEquals('stableImages: no image in channel stable: api: 1.4.2-b7 failed acceptance; api: 1.4.1-b5 rejected',
            errorFrom { h.runStep('stableImages', [:]) })
    }

    @Test
    void it_fails_with_shipmarks_message_on_a_bad_services_file() {
        answer(plan: [status: 2, json: [error: [type: 'InputError', message: "deploy/services.yaml: service 'api' appears twice", hint: 'remove one']]])
        assertEquals("stableImages: deploy/services.yaml: service 'api' appears twice\nhint: remove one", errorFrom { h.runStep('stableImages', [:]) })
    }

    @Test
    void it_fails_on_unknown_argument() {
        assertEquals("stableImages: unknown argument 'servicesFile'; valid arguments: services, channel, policy, allowMissing, credentialsId",
            errorFrom { h.runStep('stableImages', [servicesFile: 'x']) })
    }

    @Test
    void it_requires_a_services_file_and_channel() {
        assertEquals("stableImages: the 'services' argument is required", errorFrom { h.runStep('stableImages', [services: '']) })
        assertEquals("stableImages: the 'channel' argument is required", errorFrom { h.runStep('stableImages', [channel: null]) })
    }
}
