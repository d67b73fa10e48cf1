import org.junit.Test

import static org.junit.Assert.assertEquals
import static org.junit.Assert.assertFalse
import static org.junit.Assert.assertTrue

/**
 * The example Jenkinsfiles, run as they are through the harness with a fake helper: each scripted
 * pipeline and the Declarative one beside it (Jenkinsfile*.declarative) must do the same.
 */
class ExamplePipelinesTests extends StepTestCase {

    static final File EXAMPLES = new File(PipelineHarness.ROOT, 'examples')
    static final String IMAGE = 'registry.example.com:5000/team/app@sha256:' + 'c' * 64

    /** Both forms of an example: 'service/Jenkinsfile' -> [it, its .declarative twin]. */
    static List<File> bothForms(String path) {
        return [new File(EXAMPLES, path), new File(EXAMPLES, path + '.declarative')]
    }

    /** Runs body once per form, each with a fresh harness set up by setup. */
    void eachForm(String path, Closure setup, Closure body) {
        for (File file : bothForms(path)) {
            removeHarness()
            createHarness()
            setup.call()
            body.call(file)
        }
    }

    @Test
    void every_scripted_example_has_a_declarative_twin() {
        List<File> scripted = []
        EXAMPLES.eachFileRecurse { File f -> if (f.name.startsWith('Jenkinsfile') && !f.name.endsWith('.declarative')) { scripted << f } }
        assertTrue(scripted.size() >= 4)
        scripted.each { File f -> assertTrue("${f} has no ${f.name}.declarative", new File(f.parentFile, f.name + '.declarative').exists()) }
    }

    /** The service repository's scripts: build-and-push writes image.txt; the tests exit with unitStatus. */
    void serviceScripts(int unitStatus = 0) {
        h.credentials['docker-registry'] = [username: 'ci', password: 'registry-password']
        h.credentials['jenkins-api'] = [username: 'jenkins-bot', password: 'jenkins-token-value']
        recordWrites('app 1.4.2-b7')
        h.otherShell = { Map call, Map env ->
            if (call.script == './ci/build-and-push.sh') {
                h.file('image.txt').text = IMAGE + '\n'
                return [status: 0]
            }
            if (call.script == './ci/unit-tests.sh') {
                return [status: unitStatus]
            }
            return [status: 0]
        }
    }

    @Test
    void service_pipeline_records_marks_promotes_and_hands_over() {
        eachForm('service/Jenkinsfile', { serviceScripts() }) { File file ->
            h.runPipeline(file)
            assertServicePipelineRan(file.name)
        }
    }

    void assertServicePipelineRan(String name) {
        assertEquals(name, ['record', 'mark', 'promote'], commands())
        assertEquals(name, 1, h.bootstraps)
        assertTrue(name, h.helperRuns.every { it.env.JENKINS_USER == 'jenkins-bot' })
        assertEquals(['--out-dir=shipmark', '--', IMAGE], argvOf('record'))
        assertEquals(['--suite=unit', '--junit=reports/unit/*.xml', '--', IMAGE], argvOf('mark'))
        assertEquals(['--to=testing', '--', IMAGE], argvOf('promote'))
        assertTrue(h.helperRuns.every { it.env.SHIPMARK_REGISTRY_PASSWORD == 'registry-password' })
        Map build = h.callsOf('build')[0].args
        assertEquals('app-acceptance', build.job)
        assertEquals(false, build.wait)
        assertEquals([[kind: 'string', name: 'IMAGE', value: IMAGE]], build.parameters)
        Map buildEnv = h.shells.find { it.script == './ci/build-and-push.sh' }.env
        assertEquals('registry.example.com:5000/team/app', buildEnv.IMAGE_REPO)
        assertEquals('ci', buildEnv.REGISTRY_USER)
        assertEquals([[artifacts: 'shipmark/provenance.json', fingerprint: true]], h.callsOf('archiveArtifacts')*.args)
        assertEquals('app 1.4.2-b7', h.currentBuild.description)
        assertFalse(name, h.currentBuild.keepLog)      // testing keeps no build; stable does
    }

    @Test
    void service_pipeline_marks_failed_unit_tests_and_stops_before_promotion() {
        eachForm('service/Jenkinsfile', { serviceScripts(1) }) { File file ->
            assertEquals('unit tests failed (exit status 1)', errorFrom { h.runPipeline(file) })
            assertEquals(['record', 'mark'], commands())
            assertEquals([], h.callsOf('build'))
        }
    }

    @Test
    void service_pipeline_also_starts_the_carrier_build_when_carrier_jobs_are_used() {
        serviceScripts()
        h.runPipeline(new File(EXAMPLES, 'service/Jenkinsfile'), ['def useCarrierJobs = false': 'def useCarrierJobs = true'])
        assertEquals(['app-carrier', 'app-acceptance'], h.callsOf('build')*.args*.job)
    }

    void acceptanceSetup() {
        h.credentials['docker-registry'] = [username: 'ci', password: 'registry-password']
        h.credentials['jenkins-api'] = [username: 'jenkins-bot', password: 'jenkins-token-value']
        h.params.IMAGE = IMAGE
        h.onInput = { Map args -> 'alice' }
    }

    @Test
    void acceptance_pipeline_checks_then_asks_outside_node_then_promotes() {
        eachForm('service/Jenkinsfile.acceptance', { acceptanceSetup() }) { File file ->
            h.runPipeline(file)
            assertEquals(['mark', 'promote', 'promote', 'promote'], commands())
            assertEquals(['--suite=acceptance', '--junit=reports/acceptance/*.xml', '--url=https://jenkins.example.com/job/app/7/testReport/', '--', IMAGE],
                argvOf('mark'))
            assertEquals(['--to=qa-passed', '--', IMAGE], argvOf('promote', 0))
            assertEquals(['--to=stable', '--dry-run', '--', IMAGE], argvOf('promote', 1))
            assertEquals(['--to=stable', '--', IMAGE], argvOf('promote', 2))
            Map input = h.callsOf('input')[0]
            assertEquals(file.name, 'release-managers', input.args.submitter)
            assertFalse("${file.name}: input must not hold a node", input.inNode)
            assertTrue(file.name, h.callsOf('sh').every { it.inNode })
            assertEquals('alice via https://jenkins.example.com/job/app/7/', h.helperRuns[3].env.SHIPMARK_BY)
            assertEquals(IMAGE, h.shells.find { it.script == './ci/deploy-testing.sh' }.env.IMAGE)
            assertTrue(file.name, h.currentBuild.keepLog)     // promoted to stable
        }
    }

    @Test
    void scripted_acceptance_pipeline_bounds_the_wait() {
        acceptanceSetup()
        h.runPipeline(new File(EXAMPLES, 'service/Jenkinsfile.acceptance'))
        assertEquals([[time: 3, unit: 'DAYS']], h.callsOf('timeout')*.args)
    }

    @Test
    void acceptance_pipeline_marks_a_failure_and_promotes_nothing() {
        eachForm('service/Jenkinsfile.acceptance', {
            acceptanceSetup()
            h.otherShell = { Map call, Map env -> [status: call.script == './ci/acceptance-tests.sh' ? 3 : 0] }
        }) { File file ->
            assertEquals('acceptance tests failed (exit status 3)', errorFrom { h.runPipeline(file) })
            assertEquals(['mark'], commands())
            assertEquals([], h.callsOf('input'))
        }
    }

    @Test
    void acceptance_pipeline_needs_an_image() {
        eachForm('service/Jenkinsfile.acceptance', {}) { File file ->
            assertEquals('IMAGE is required: the image to test, as repo@sha256:...', errorFrom { h.runPipeline(file) })
            assertEquals([], h.shells)
        }
    }

    @Test
    void acceptance_pipeline_with_carrier_jobs_only_triggers_the_relay() {
        acceptanceSetup()
        h.runPipeline(new File(EXAMPLES, 'service/Jenkinsfile.acceptance'), ['def useCarrierJobs = false': 'def useCarrierJobs = true'])
        assertEquals(['mark'], commands())
        assertEquals([], h.callsOf('input'))
        assertEquals([[job: 'app-acceptance-passed', parameters: [[kind: 'string', name: 'IMAGE', value: IMAGE]], wait: false]], h.callsOf('build')*.args)
    }

    @Test
    void nightly_pipeline_deploys_stable_and_publishes_the_board() {
        eachForm('nightly/Jenkinsfile', {
            h.credentials['docker-registry'] = [username: 'ci', password: 'p']
            answer(plan: [status: 0, json: [services: [[name: 'app', image: IMAGE, change: 'upgrade']]]])
        }) { File file ->
            h.runPipeline(file)
            assertEquals(['plan', 'render', 'deployed', 'board'], commands())
            assertTrue(argvOf('render').contains('--template=docker-compose.yml.j2'))
            Map apply = h.shells.find { it.script == './deploy/apply.sh "$SHIPMARK_RENDER_DIR"' }
            assertEquals('deploy/rendered', apply.env.SHIPMARK_RENDER_DIR)
            assertEquals('reports', h.callsOf('publishHTML')[0].args.target.reportDir)
            assertTrue(h.log.contains("deployed to stable-server: [app:${IMAGE}]".toString()))
        }
    }

    @Test
    void scripted_nightly_pipeline_runs_at_night() {
        h.runPipeline(new File(EXAMPLES, 'nightly/Jenkinsfile'), ['deployStable(': 'echo(', 'releaseBoard(': 'echo('])
        assertEquals([[kind: 'pipelineTriggers', triggers: [[kind: 'cron', spec: 'H 2 * * *']]]], h.callsOf('properties')[0].args)
    }

    @Test
    void nightly_pipeline_publishes_the_board_even_when_the_deploy_fails() {
        eachForm('nightly/Jenkinsfile', {
            h.credentials['docker-registry'] = [username: 'ci', password: 'p']
            h.otherShell = { Map call, Map env -> [status: 1] }
        }) { File file ->
            String message = errorFrom { h.runPipeline(file) }
            assertTrue(message, message.startsWith('deployStable: apply failed with exit status 1; rolled back'))
            assertEquals(['plan', 'render', 'deployed', 'board'], commands())
            assertEquals(1, h.callsOf('publishHTML').size())
        }
    }

    @Test
    void carrier_seed_runs_the_librarys_job_dsl_script_for_its_services_in_the_sandbox() {
        eachForm('carrier-seed/Jenkinsfile', {}) { File file ->
            h.runPipeline(file)
            Map call = h.callsOf('jobDsl')[0].args
            assertEquals(new File(PipelineHarness.ROOT, 'resources/dev/shipmark/carrier-jobs.groovy').text, call.scriptText)
            assertTrue(call.sandbox)
            JobDslStandIn dsl = new JobDslStandIn()
            dsl.run(call.scriptText, call.additionalParameters)
            assertEquals(['app-carrier', 'app-acceptance-passed', 'worker-carrier', 'worker-acceptance-passed'], dsl.jobs.keySet() as List)
            assertFalse(dsl.projectXml('app-carrier').contains('SHIPMARK_POLICY'))
        }
    }
}
