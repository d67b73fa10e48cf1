import org.junit.Test

import static org.junit.Assert.assertEquals
import static org.junit.Assert.assertFalse
import static org.junit.Assert.assertTrue

/** Every example pipeline, scripted and Declarative, under the CPS interpreter with a fake helper. */
class CpsExamplesTests extends CpsTestCase {

    static final File EXAMPLES = new File(ROOT, 'examples')
    static final String IMAGE = 'registry.example.com:5000/team/app@sha256:' + 'c' * 64

    void serviceScripts() {
        otherShell = { Map args ->
            if (args.script == './ci/build-and-push.sh') {
                workspaceFile('image.txt').text = IMAGE + '\n'
            }
            args.returnStatus ? 0 : null
        }
        answer = { String command, List argv ->
            if (command == 'record') {
                workspaceFile('shipmark').mkdirs()
                workspaceFile('shipmark/description.txt').text = 'shipmark: app:1.4.2'
                return [status: 0, json: [image: IMAGE, files: ['shipmark/provenance.json', 'shipmark/description.txt']]]
            }
            [status: 0, json: [:]]
        }
    }

    void assertServiceRan(String name) {
        assertEquals(name, ['record', 'mark', 'promote'], commands())
        assertEquals(name, ['--to=testing', '--', IMAGE], argvOf('promote'))
        assertEquals(name, 1, bootstraps)
        assertEquals(name, 'shipmark: app:1.4.2', build.description)
        assertFalse(name, build.keepLog as boolean)
        assertEquals(name, 'app-acceptance', callsOf('build').last().args[0].job.toString())
    }

    @Test
    void service_pipeline() {
        serviceScripts()
        runJenkinsfile(new File(EXAMPLES, 'service/Jenkinsfile'))
        assertServiceRan('Jenkinsfile')
    }

    @Test
    void service_pipeline_declarative() {
        serviceScripts()
        runJenkinsfile(new File(EXAMPLES, 'service/Jenkinsfile.declarative'))
        assertServiceRan('Jenkinsfile.declarative')
    }

    void assertAcceptanceRan(String name) {
        assertEquals(name, ['mark', 'promote', 'promote', 'promote'], commands())
        assertEquals(name, ['--to=stable', '--dry-run', '--', IMAGE], argvOf('promote', 1))
        assertEquals(name, 1, inputs.size())
        assertFalse("${name}: the input holds no node", inputs[0].inNode)
        assertEquals(name, 'alice via https://jenkins.example.com/job/app/7/', helperRuns[3].env.SHIPMARK_BY)
        assertTrue(name, build.keepLog as boolean)
    }

    @Test
    void acceptance_pipeline() {
        parameters.IMAGE = IMAGE
        runJenkinsfile(new File(EXAMPLES, 'service/Jenkinsfile.acceptance'))
        assertAcceptanceRan('Jenkinsfile.acceptance')
    }

    @Test
    void acceptance_pipeline_declarative() {
        parameters.IMAGE = IMAGE
        runJenkinsfile(new File(EXAMPLES, 'service/Jenkinsfile.acceptance.declarative'))
        assertAcceptanceRan('Jenkinsfile.acceptance.declarative')
    }

    void nightlyAnswers() {
        answer = { String command, List argv ->
            [status: 0, json: command == 'plan' ? [services: [[name: 'app', image: IMAGE, change: 'update']]] : [:]]
        }
    }

    @Test
    void nightly_pipeline() {
        nightlyAnswers()
        runJenkinsfile(new File(EXAMPLES, 'nightly/Jenkinsfile'))
        assertEquals(['plan', 'render', 'deployed', 'board'], commands())
        assertTrue(log.toString(), log.contains("deployed to stable-server: [app:${IMAGE}]".toString()))
    }

    @Test
    void nightly_pipeline_declarative() {
        nightlyAnswers()
        runJenkinsfile(new File(EXAMPLES, 'nightly/Jenkinsfile.declarative'))
        assertEquals(['plan', 'render', 'deployed', 'board'], commands())
    }

    @Test
    void carrier_seed_pipelines() {
        String dsl = new File(ROOT, 'resources/dev/shipmark/carrier-jobs.groovy').text
        for (String path : ['carrier-seed/Jenkinsfile', 'carrier-seed/Jenkinsfile.declarative']) {
            helper.clearCallStack()
            runJenkinsfile(new File(EXAMPLES, path))
            Map call = (Map) callsOf('jobDsl')[0].args[0]
            assertEquals(path, dsl, call.scriptText)
            assertTrue(path, call.sandbox as boolean)
        }
    }

    @Test
    void every_example_is_run_here() {
        List<String> covered = ['service/Jenkinsfile', 'service/Jenkinsfile.declarative', 'service/Jenkinsfile.acceptance',
                                'service/Jenkinsfile.acceptance.declarative', 'nightly/Jenkinsfile', 'nightly/Jenkinsfile.declarative',
                                'carrier-seed/Jenkinsfile', 'carrier-seed/Jenkinsfile.declarative']
        List<String> found = []
        String base = EXAMPLES.path
        EXAMPLES.eachFileRecurse { File f -> if (f.name.startsWith('Jenkinsfile')) { found << f.path.substring(base.length() + 1) } }
        assertEquals(covered.sort(), found.sort())
    }
}
