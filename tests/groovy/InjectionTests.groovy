import groovy.json.JsonSlurper
import org.junit.Test

import static org.junit.Assert.assertEquals
import static org.junit.Assert.assertFalse
import static org.junit.Assert.assertTrue

/**
 * Shell metacharacters in every user-supplied value of every step: the value must reach the helper
 * as inert JSON data in the args file (byte for byte), and every script given to sh must be one of
 * the library's constant scripts, so no value is ever part of a command line.
 */
class InjectionTests {

    static final String IMAGE = 'registry.example.com:5000/team/app@sha256:' + 'a' * 64
    static final String APPLY = './deploy/apply.sh'

    static final List<String> NASTY = [
        "'; rm -rf / #",
        '$(touch /tmp/shipmark-pwned)',
        '`touch /tmp/shipmark-pwned`',
        'first line\nsecond line $HOME "quoted" \\ back',
        '--to=production',
        'caf\u00e9 \u2603 && echo done | tee x > y',
    ]

    static final List<String> CONSTANT_SCRIPTS = [PipelineHarness.STEP_SCRIPT, APPLY]

    /** step -> [base arguments, fields that carry user values to the helper, the option each becomes] */
    static final Map<String, Map> STEPS = [
        recordImage : [base  : [image: IMAGE],
                       fields: [image: null, outDir: 'out-dir', gitCommit: 'git-commit', gitBranch: 'git-branch', gitUrl: 'git-url',
                                buildUrl: 'build-url', baseImage: 'base-image']],
        markImage   : [base  : [image: IMAGE, suite: 'unit', result: 'passed'],
                       fields: [image: null, suite: 'suite', url: 'url', configuration: 'configuration']],
        promoteImage: [base  : [image: IMAGE, to: 'stable'],
                       fields: [image: null, to: 'to', policy: 'policy', copyTo: 'copy-to']],
        rejectImage : [base  : [image: IMAGE, reason: 'broken'],
                       fields: [image: null, reason: 'reason']],
        stableImages: [base  : [:],
                       fields: [services: 'services', channel: 'channel', policy: 'policy']],
        releaseBoard: [base  : [publish: false],
                       fields: [services: 'services', channel: 'channel', target: 'target', out: 'out', title: 'title']],
        deployStable: [base  : [target: 'stable-server', template: 'deploy/t.j2', apply: APPLY],
                       fields: [services: 'services', channel: 'channel', target: 'target', template: 'template', outDir: 'out', policy: 'policy']],
    ]

    /** Runs one step in a fresh harness; returns the harness (cleaned up by the caller). */
    PipelineHarness run(String step, Map args, Closure setup = {}) {
        PipelineHarness h = new PipelineHarness()
        h.helper = { String command, List argv, Map env ->
            if (command == 'record') {
                String outDir = argv.find { it.startsWith('--out-dir=') }.substring('--out-dir='.length())
                new File(h.file(outDir), 'x').parentFile.mkdirs()
                new File(h.file(outDir), 'provenance.json').text = '{}'
                new File(h.file(outDir), 'description.txt').text = 'd'
            }
            [status: 0, json: [:]]
        }
        setup.call(h)
        try {
            h.runStep(step, args)
        } catch (PipelineError e) {
            h.cleanup()
            throw new AssertionError("${step}(${args}) failed: ${e.message}".toString())
        }
        return h
    }

    void assertOnlyConstantScripts(PipelineHarness h, String context) {
        for (String script : h.scripts()) {
            assertTrue("${context}: unexpected sh script ${script.inspect()}", CONSTANT_SCRIPTS.contains(script))
        }
    }

    void assertInArgsFile(PipelineHarness h, String expected, String context) {
        boolean found = h.helperRuns.any { Map run ->
            List parsed = (List) new JsonSlurper().parseText(run.argsText)
            parsed == run.argv && parsed.contains(expected)
        }
        assertTrue("${context}: ${expected.inspect()} not found as one argument in ${h.helperRuns*.argv}", found)
    }

    @Test
    void every_user_value_of_every_step_reaches_the_helper_as_data() {
        STEPS.each { String step, Map spec ->
            spec.fields.each { String field, String option ->
                NASTY.each { String value ->
                    String context = "${step} ${field}=${value.inspect()}"
                    PipelineHarness h = run(step, spec.base + [(field): value])
                    try {
                        assertOnlyConstantScripts(h, context)
                        assertInArgsFile(h, option == null ? value : "--${option}=${value}".toString(), context)
                        if (option == null) {
                            assertTrue(context, h.helperRuns.every { it.argv[-2] == '--' && it.argv[-1] == value })
                        }
                    } finally {
                        h.cleanup()
                    }
                }
            }
        }
    }

    @Test
    void list_values_reach_the_helper_element_by_element() {
        NASTY.each { String value ->
            PipelineHarness h = run('recordImage', [image: IMAGE, materials: [value, 'pkg:deb/x=sha256:' + 'b' * 64]])
            try {
                assertOnlyConstantScripts(h, value)
                assertInArgsFile(h, "--material=${value}".toString(), value)
            } finally {
                h.cleanup()
            }
            h = run('markImage', [image: IMAGE, suite: 'unit', junit: [value, 'reports/*.xml']])
            try {
                assertOnlyConstantScripts(h, value)
                assertInArgsFile(h, "--junit=${value}".toString(), value)
            } finally {
                h.cleanup()
            }
        }
    }

    @Test
    void forced_promotion_reason_and_approval_text_stay_data() {
        NASTY.each { String value ->
            PipelineHarness h = run('promoteImage', [image: IMAGE, to: 'stable', force: true, reason: value,
                                                     approve: [submitter: value, message: value]]) { PipelineHarness it ->
                it.onInput = { Map args -> value }
            }
            try {
                assertOnlyConstantScripts(h, value)
                assertInArgsFile(h, "--reason=${value}".toString(), value)
                Map question = h.callsOf('input')[0].args
                assertEquals(value, question.submitter)
                assertEquals(value, question.message)
                assertEquals("${value} via https://jenkins.example.com/job/app/7/".toString(), h.helperRuns.last().env.SHIPMARK_BY)
            } finally {
                h.cleanup()
            }
        }
    }

    @Test
    void deploy_values_reach_the_users_command_only_as_environment() {
        NASTY.each { String value ->
            PipelineHarness h = run('deployStable', [target: value, template: 'deploy/t.j2', apply: APPLY, outDir: value, channel: value])
            try {
                assertOnlyConstantScripts(h, value)
                Map env = h.shells.find { it.script == APPLY }.env
                assertEquals(value, env.SHIPMARK_RENDER_DIR)
                assertEquals(value, env.SHIPMARK_TARGET)
                assertEquals(value, env.SHIPMARK_CHANNEL)
            } finally {
                h.cleanup()
            }
        }
    }

    @Test
    void a_bad_result_is_refused_before_any_shell_runs() {
        NASTY.each { String value ->
            PipelineHarness h = new PipelineHarness()
            try {
                h.runStep('markImage', [image: IMAGE, suite: 'unit', result: value])
                throw new AssertionError('expected an error')
            } catch (PipelineError expected) {
                assertTrue(expected.message.startsWith("markImage: 'result' must be"))
                assertEquals([], h.shells)
            } finally {
                h.cleanup()
            }
        }
    }

    @Test
    void values_are_never_echoed_into_a_command_or_a_label() {
        PipelineHarness h = run('promoteImage', [image: IMAGE, to: "'; rm -rf / #"])
        try {
            h.helperRuns.each { Map run ->
                assertEquals('promote', run.env.SHIPMARK_STEP_COMMAND)
            }
            h.callsOf('sh').each { Map call ->
                assertEquals('shipmark promote', call.args.label)
            }
        } finally {
            h.cleanup()
        }
    }
}
