import org.junit.Test

import static org.junit.Assert.assertEquals
import static org.junit.Assert.assertTrue

class DeployStableStepTests extends StepTestCase {

    static final String APPLY = 'docker compose -f "$SHIPMARK_RENDER_DIR/docker-compose.yml" up -d'
    static final Map ARGS = [target: 'stable-server', template: 'deploy/compose.yml.j2', apply: APPLY]
    static final Map PLAN = [channel: 'stable', target: 'stable-server', services: [
        [name: 'api', image: 'registry.example.com:5000/team/api@sha256:' + 'a' * 64, deployed: 'registry.example.com:5000/team/api@sha256:' + '9' * 64, change: 'update'],
        [name: 'web', image: 'registry.example.com:5000/team/web@sha256:' + 'b' * 64, deployed: 'registry.example.com:5000/team/web@sha256:' + 'b' * 64, change: 'none'],
    ]]

    /** Fake apply: the user's command exits with the next status from the list. */
    void applyExits(List<Integer> statuses) {
        List<Integer> left = new ArrayList<Integer>(statuses)
        h.otherShell = { Map call, Map env -> [status: left ? left.remove(0) : 0, stdout: ''] }
    }

    /** --plan=FILE: the plan's own JSON output, which render and deployed must read. */
    String planFile() {
        return "--plan=${h.helperRuns.find { it.command == 'plan' }.env.SHIPMARK_SAVE_OUTPUT}".toString()
    }

    List<Map> applyCalls() {
        return h.shells.findAll { it.script == APPLY }
    }

    @Test
    void it_plans_renders_applies_and_records() {
        answer(plan: [status: 0, json: PLAN])
        Map deployed = h.runStep('deployStable', ARGS)
        assertEquals([api: PLAN.services[0].image, web: PLAN.services[1].image], deployed)
        assertEquals(['plan', 'render', 'deployed'], commands())
        assertEquals(['--services=deploy/services.yaml', '--channel=stable', '--target=stable-server'], argvOf('plan'))
        assertEquals(['--services=deploy/services.yaml', '--channel=stable', '--target=stable-server', planFile(),
                      '--template=deploy/compose.yml.j2', '--out=deploy/rendered'], argvOf('render'))
        assertEquals(['--services=deploy/services.yaml', '--channel=stable', '--target=stable-server', planFile()], argvOf('deployed'))
        assertEquals(1, applyCalls().size())
        Map env = applyCalls()[0].env
        assertEquals('deploy/rendered', env.SHIPMARK_RENDER_DIR)
        assertEquals('stable-server', env.SHIPMARK_TARGET)
        assertEquals('stable', env.SHIPMARK_CHANNEL)
        assertEquals('false', env.SHIPMARK_ROLLBACK)
        assertTrue(h.log.toString(), h.log.contains("deployStable: api: ${PLAN.services[0].image} (update from ${PLAN.services[0].deployed})".toString()))
    }

    @Test
    void it_runs_the_users_command_between_render_and_record() {
        h.runStep('deployStable', ARGS)
        List<String> order = h.shells.collect { it.script == APPLY ? 'apply' : it.env.SHIPMARK_STEP_COMMAND }
        assertEquals(['plan', 'render', 'apply', 'deployed'], order)
    }

    @Test
    void it_records_the_failure_rolls_back_reapplies_once_and_fails() {
        applyExits([1, 0])
        String message = errorFrom { h.runStep('deployStable', ARGS + [outDir: 'out']) }
        assertEquals('deployStable: apply failed with exit status 1; rolled back to the previous deployed set and applied it', message)
        assertEquals(['plan', 'render', 'deployed'], commands())
        assertEquals(['--services=deploy/services.yaml', '--channel=stable', '--target=stable-server', planFile(), '--failed', '--rollback',
                      '--template=deploy/compose.yml.j2', '--out=out'], argvOf('deployed'))
        assertEquals(2, applyCalls().size())
        assertEquals('true', applyCalls()[1].env.SHIPMARK_ROLLBACK)
        assertEquals('out', applyCalls()[1].env.SHIPMARK_RENDER_DIR)
    }

    @Test
    void it_says_when_the_rollback_apply_fails_too() {
        applyExits([2, 7])
        assertEquals('deployStable: apply failed with exit status 2; rolled back to the previous deployed set, but applying it failed with exit status 7',
            errorFrom { h.runStep('deployStable', ARGS) })
        assertEquals(2, applyCalls().size())
    }

    @Test
    void it_only_records_the_failure_without_rollback() {
        applyExits([1])
        assertEquals('deployStable: apply failed with exit status 1; recorded as a failed deployment to stable-server',
            errorFrom { h.runStep('deployStable', ARGS + [rollback: false]) })
        assertEquals(['--services=deploy/services.yaml', '--channel=stable', '--target=stable-server', planFile(), '--failed'], argvOf('deployed'))
        assertEquals(1, applyCalls().size())
    }

    @Test
    void it_does_not_reapply_when_there_is_nothing_to_roll_back_to() {
        applyExits([1])
        answer(deployed: [status: 4, json: [error: [type: 'NotFoundError', message: 'no earlier deployment to stable-server']]])
        assertEquals('deployStable: apply failed with exit status 1; recorded as a failed deployment to stable-server; nothing to roll back to: no earlier deployment to stable-server',
            errorFrom { h.runStep('deployStable', ARGS) })
        assertEquals(1, applyCalls().size())
    }

    @Test
    void it_stops_before_apply_when_rendering_fails() {
        answer(render: [status: 2, json: [error: [type: 'InputError', message: "deploy/compose.yml.j2:4: 'image' is undefined"]]])
        assertEquals("deployStable: deploy/compose.yml.j2:4: 'image' is undefined", errorFrom { h.runStep('deployStable', ARGS) })
        assertEquals([], applyCalls())
        assertEquals(['plan', 'render'], commands())
    }

    @Test
    void it_deploys_the_services_that_have_an_image_and_reports_the_rest() {
        Map plan = [channel: 'stable', target: 'stable-server', services: PLAN.services + [
            [name: 'worker', image: null, deployed: null, reasons: ["channel 'stable' of reg/worker has no member"]]]]
        answer(plan: [status: 0, json: plan])
        Map deployed = h.runStep('deployStable', ARGS)
        assertEquals([api: PLAN.services[0].image, web: PLAN.services[1].image], deployed)
        assertEquals(['plan', 'render', 'deployed'], commands())
        assertEquals(1, applyCalls().size())
        assertTrue(h.log.toString(), h.log.contains("deployStable: worker: no image: channel 'stable' of reg/worker has no member"))
        assertTrue(h.log.toString(), h.log.contains("deployStable: not deployed (no image in channel stable): worker: channel 'stable' of reg/worker has no member"))
    }

    @Test
    void it_applies_nothing_when_no_service_has_an_image() {
        answer(plan: [status: 0, json: [channel: 'stable', services: [[name: 'api', image: null, reasons: ['never promoted']]]]])
        assertEquals('deployStable: no service has an image in channel stable: api: never promoted', errorFrom { h.runStep('deployStable', ARGS) })
        assertEquals([], applyCalls())
    }

    @Test
    void it_fails_with_the_reasons_when_nothing_is_eligible() {
        answer(plan: [status: 3, json: [error: [message: 'nothing eligible', reasons: ['api: every image failed acceptance']]]])
        assertEquals('deployStable: nothing eligible for channel stable: api: every image failed acceptance', errorFrom { h.runStep('deployStable', ARGS) })
        assertEquals([], applyCalls())
    }

    @Test
    void render_and_deployed_read_the_saved_plan_byte_for_byte() {
        answer(plan: [status: 0, json: PLAN])
        h.runStep('deployStable', ARGS)
        String saved = h.helperRuns.find { it.command == 'plan' }.env.SHIPMARK_SAVE_OUTPUT
        assertEquals('shipmark/plan.json', saved)
        assertEquals(groovy.json.JsonOutput.toJson(PLAN), h.file(saved).text)
    }

    @Test
    void it_passes_policy_to_plan_render_and_deployed() {
        h.runStep('deployStable', ARGS + [policy: 'ops/shipmark.yaml'])
        ['plan', 'render', 'deployed'].each { assertTrue(it, argvOf(it).contains('--policy=ops/shipmark.yaml')) }
    }

    @Test
    void it_requires_target_template_and_apply() {
        assertEquals("deployStable: the 'target' argument is required", errorFrom { h.runStep('deployStable', [template: 't', apply: 'a']) })
        assertEquals("deployStable: the 'template' argument is required", errorFrom { h.runStep('deployStable', [target: 't', apply: 'a']) })
        assertEquals("deployStable: the 'apply' argument is required", errorFrom { h.runStep('deployStable', [target: 't', template: 't']) })
        assertEquals([], h.shells)
    }

    @Test
    void it_fails_on_unknown_argument() {
        assertEquals("deployStable: unknown argument 'command'; valid arguments: services, channel, target, template, outDir, planFile, apply, rollback, " +
            'policy, credentialsId, jenkinsCredentialsId, signingKeyCredentialsId', errorFrom { h.runStep('deployStable', ARGS + [command: 'x']) })
    }

    @Test
    void it_keeps_registry_credentials_away_from_the_users_command() {
        h.runStep('deployStable', ARGS + [credentialsId: 'registry-creds'])
        assertEquals('reg-secret-value', h.helperRuns[0].env.SHIPMARK_REGISTRY_PASSWORD)
        assertEquals(null, applyCalls()[0].env.SHIPMARK_REGISTRY_PASSWORD)
    }
}
