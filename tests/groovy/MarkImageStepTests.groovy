import org.junit.Test

import static org.junit.Assert.assertEquals
import static org.junit.Assert.assertTrue

class MarkImageStepTests extends StepTestCase {

    static final String IMAGE = 'registry.example.com:5000/team/app@sha256:' + 'a' * 64

    @Test
    void it_marks_a_plain_result() {
        answer(mark: [status: 0, json: [image: IMAGE, suite: 'unit', result: 'passed']])
        assertEquals('passed', h.runStep('markImage', [image: IMAGE, suite: 'unit', result: 'passed']).result)
        assertEquals(['--suite=unit', '--result=passed', '--', IMAGE], argvOf('mark'))
        ShipmarkRunnerTests.assertRanHelper(h, 'mark')
    }

    @Test
    void it_marks_from_junit_globs() {
        answer(mark: [status: 0, json: [result: 'failed', counts: [passed: 41, failed: 1]]])
        h.runStep('markImage', [image: IMAGE, suite: 'acceptance', junit: 'reports/acceptance/*.xml', url: 'https://jenkins.example.com/job/acc/3/testReport/',
                                configuration: 'staging, firefox'])
        assertEquals(['--suite=acceptance', '--junit=reports/acceptance/*.xml', '--url=https://jenkins.example.com/job/acc/3/testReport/',
                      '--configuration=staging, firefox', '--', IMAGE], argvOf('mark'))
        assertTrue(h.log.toString(), h.log.contains("markImage: acceptance failed (41 passed, 1 failed) on ${IMAGE}".toString()))
    }

    @Test
    void it_takes_a_list_of_junit_globs() {
        h.runStep('markImage', [image: IMAGE, suite: 'unit', junit: ['a/*.xml', 'b/**/*.xml']])
        assertEquals(['--suite=unit', '--junit=a/*.xml', '--junit=b/**/*.xml', '--', IMAGE], argvOf('mark'))
    }

    @Test
    void it_wants_exactly_one_of_result_and_junit() {
        String expected = "markImage: give exactly one of 'result' (passed, failed or warned) and 'junit' (a glob of JUnit XML files)"
        assertEquals(expected, errorFrom { h.runStep('markImage', [image: IMAGE, suite: 'unit']) })
        assertEquals(expected, errorFrom { h.runStep('markImage', [image: IMAGE, suite: 'unit', result: 'passed', junit: 'r/*.xml']) })
        assertEquals([], h.shells)
    }

    @Test
    void it_rejects_an_unknown_result() {
        assertEquals("markImage: 'result' must be 'passed', 'failed' or 'warned', got 'PASSED'",
            errorFrom { h.runStep('markImage', [image: IMAGE, suite: 'unit', result: 'PASSED']) })
    }

    @Test
    void it_fails_on_unknown_argument() {
        assertEquals("markImage: unknown argument 'status'; valid arguments: image, suite, result, junit, url, configuration, credentialsId, jenkinsCredentialsId, signingKeyCredentialsId",
            errorFrom { h.runStep('markImage', [image: IMAGE, suite: 'unit', status: 'passed']) })
    }

    @Test
    void it_requires_image_and_suite() {
        assertEquals("markImage: the 'image' argument is required", errorFrom { h.runStep('markImage', [suite: 'unit', result: 'passed']) })
        assertEquals("markImage: the 'suite' argument is required", errorFrom { h.runStep('markImage', [image: IMAGE, result: 'passed']) })
    }

    @Test
    void it_fails_with_shipmarks_message_on_bad_junit() {
        answer(mark: [status: 2, json: [error: [type: 'InputError', message: "no JUnit XML files match 'reports/*.xml'", hint: 'check the glob']]])
        assertEquals("markImage: no JUnit XML files match 'reports/*.xml'\nhint: check the glob",
            errorFrom { h.runStep('markImage', [image: IMAGE, suite: 'unit', junit: 'reports/*.xml']) })
    }

    @Test
    void it_binds_jenkins_credentials_for_the_producing_build_update() {
        h.runStep('markImage', [image: IMAGE, suite: 'unit', result: 'passed', jenkinsCredentialsId: 'jenkins-creds'])
        assertEquals('jenkins-bot', h.helperRuns[0].env.JENKINS_USER)
        assertEquals('jenkins-token-value', h.helperRuns[0].env.JENKINS_API_TOKEN)
    }
}
