import org.junit.After
import org.junit.Test

import static org.junit.Assert.assertEquals
import static org.junit.Assert.assertFalse
import static org.junit.Assert.assertTrue
import static org.junit.Assert.fail

/**
 * resources/dev/shipmark/carrier-jobs.groovy, evaluated through the Job DSL stand-in: the config
 * XML it produces for the carrier jobs matches the Promoted Builds plugin's layout and the
 * checked-in expected files, and its build steps behave when run in bash.
 */
class CarrierJobsDslTests {

    static final Map SERVICE = [name: 'app', approvers: 'release-managers,alice', credentialsId: 'docker-registry',
                                policy: '/etc/shipmark/app.yaml', label: 'docker']
    static final File SCRIPT = new File(PipelineHarness.ROOT, 'resources/dev/shipmark/carrier-jobs.groovy')
    static final File EXPECTED = new File(PipelineHarness.ROOT, 'tests/groovy/fixtures/promoted-builds')

    /**
     * The documented layout of a promotion process config.xml: the elements PromotionProcess and
     * its Job DSL writer know, the fields of each condition class and of the build steps we use.
     */
    static final List<String> PROCESS_ELEMENTS = ['actions', 'name', 'icon', 'assignedLabel', 'isVisible', 'keepDependencies',
        'properties', 'scm', 'canRoam', 'disabled', 'blockBuildWhenDownstreamBuilding', 'blockBuildWhenUpstreamBuilding',
        'triggers', 'concurrentBuild', 'conditions', 'buildSteps', 'buildWrappers']
    static final Map<String, List<String>> CONDITION_FIELDS = [
        'hudson.plugins.promoted__builds.conditions.ManualCondition'            : ['users', 'parameterDefinitions'],
        'hudson.plugins.promoted__builds.conditions.DownstreamPassCondition'    : ['jobs', 'evenIfUnstable'],
        'hudson.plugins.promoted__builds.conditions.UpstreamPromotionCondition' : ['requiredPromotionNames'],
        'hudson.plugins.promoted__builds.conditions.SelfPromotionCondition'     : ['evenIfUnstable'],
    ]
    static final Map<String, List<String>> BUILD_STEP_FIELDS = ['hudson.tasks.Shell': ['command']]

    List<File> scratch = []

    @After
    void cleanup() {
        scratch*.deleteDir()
    }

    JobDslStandIn seed(List services) {
        JobDslStandIn dsl = new JobDslStandIn()
        dsl.run(SCRIPT.text, [shipmarkServices: services])
        return dsl
    }

    static Node parse(String xml) {
        return new XmlParser(false, false).parseText(xml)
    }

    /** A comparable form: element names, attributes and trimmed text, children in order. */
    static Object shape(Node node) {
        List children = node.children().findAll { it instanceof Node }.collect { shape((Node) it) }
        String text = node.children().findAll { it instanceof String }.join('')
        return [node.name().toString(), node.attributes(), children ? children : text.trim() ? text : '']
    }

    static void assertPromotedBuildsLayout(String xml, String context) {
        Node root = parse(xml)
        assertEquals(context, 'hudson.plugins.promoted__builds.PromotionProcess', root.name())
        root.children().each { Node element ->
            assertTrue("${context}: <${element.name()}> is not part of a PromotionProcess", PROCESS_ELEMENTS.contains(element.name()))
        }
        assertEquals("${context}: one <conditions>", 1, root.conditions.size())
        root.conditions[0].children().each { Node condition ->
            List<String> fields = CONDITION_FIELDS[condition.name()]
            assertTrue("${context}: unknown condition ${condition.name()}", fields != null)
            assertEquals("${context}: fields of ${condition.name()}", fields, condition.children()*.name())
        }
        root.buildSteps[0].children().each { Node step ->
            assertEquals("${context}: fields of ${step.name()}", BUILD_STEP_FIELDS[step.name()], step.children()*.name())
        }
    }

    @Test
    void it_creates_a_carrier_and_a_relay_job_per_service() {
        JobDslStandIn dsl = seed([SERVICE, [name: 'worker', approvers: 'ops']])
        assertEquals(['app-carrier', 'app-acceptance-passed', 'worker-carrier', 'worker-acceptance-passed'], dsl.jobs.keySet() as List)
    }

    @Test
    void the_promotion_processes_match_the_checked_in_config_xml() {
        Map<String, String> promotions = seed([SERVICE]).promotionXml('app-carrier')
        assertEquals(['qa-passed', 'stable'], promotions.keySet() as List)
        promotions.each { String name, String xml ->
            File expected = new File(EXPECTED, "app-carrier/promotions/${name}/config.xml")
            assertEquals("promotions/${name}/config.xml", shape(parse(expected.text)), shape(parse(xml)))
        }
    }

    @Test
    void the_expected_files_and_the_generated_xml_follow_the_promoted_builds_layout() {
        seed([SERVICE]).promotionXml('app-carrier').each { String name, String xml -> assertPromotedBuildsLayout(xml, "generated ${name}") }
        ['qa-passed', 'stable'].each { assertPromotedBuildsLayout(new File(EXPECTED, "app-carrier/promotions/${it}/config.xml").text, "expected ${it}") }
    }

    @Test
    void the_carrier_job_lists_its_processes_takes_image_and_fingerprints_it() {
        Node project = parse(seed([SERVICE]).projectXml('app-carrier'))
        assertEquals('project', project.name())
        assertEquals(['qa-passed', 'stable'], project.properties[0].'hudson.plugins.promoted__builds.JobPropertyImpl'[0].activeProcessNames[0].string*.text())
        def params = project.properties[0].'hudson.model.ParametersDefinitionProperty'[0].parameterDefinitions[0].'hudson.model.StringParameterDefinition'
        assertEquals(['IMAGE'], params*.name*.text().flatten())
        assertEquals('docker', project.assignedNode.text())
        assertEquals('shipmark-image.txt', project.publishers[0].'hudson.tasks.Fingerprinter'[0].targets.text())
        assertEquals('200', project.properties[0].'jenkins.model.BuildDiscarderProperty'[0].strategy[0].numToKeep.text())
        assertTrue(project.builders[0].'hudson.tasks.Shell'[0].command.text().contains('> shipmark-image.txt'))
    }

    @Test
    void the_relay_job_fingerprints_the_same_file_with_the_same_step_and_has_no_promotions() {
        JobDslStandIn dsl = seed([SERVICE])
        Node carrier = parse(dsl.projectXml('app-carrier'))
        Node relay = parse(dsl.projectXml('app-acceptance-passed'))
        assertEquals(carrier.builders[0].'hudson.tasks.Shell'[0].command.text(), relay.builders[0].'hudson.tasks.Shell'[0].command.text())
        assertEquals(shape(carrier.publishers[0]), shape(relay.publishers[0]))
        assertEquals([], relay.properties[0].'hudson.plugins.promoted__builds.JobPropertyImpl')
        assertEquals([:], dsl.promotionXml('app-acceptance-passed'))
    }

    @Test
    void minimal_services_get_no_wrappers_label_or_policy() {
        JobDslStandIn dsl = seed([[name: 'api', approvers: 'ops']])
        Node stable = parse(dsl.promotionXml('api-carrier').stable)
        assertEquals([], stable.buildWrappers[0].children())
        assertEquals([], stable.assignedLabel)
        assertFalse(stable.buildSteps[0].'hudson.tasks.Shell'[0].command.text().contains('--policy'))
        Node project = parse(dsl.projectXml('api-carrier'))
        assertEquals(['IMAGE'], project.properties[0].'hudson.model.ParametersDefinitionProperty'[0].parameterDefinitions[0].'hudson.model.StringParameterDefinition'*.name*.text().flatten())
        assertEquals('true', project.canRoam.text())
    }

    @Test
    void jenkins_credentials_are_bound_for_the_helper_when_given() {
        Node stable = parse(seed([SERVICE + [jenkinsCredentialsId: 'jenkins-bot']]).promotionXml('app-carrier').stable)
        def bindings = stable.buildWrappers[0].'org.jenkinsci.plugins.credentialsbinding.impl.SecretBuildWrapper'[0].bindings[0].children()
        assertEquals([['docker-registry', 'SHIPMARK_REGISTRY_USERNAME', 'SHIPMARK_REGISTRY_PASSWORD'], ['jenkins-bot', 'JENKINS_USER', 'JENKINS_API_TOKEN']],
            bindings.collect { [it.credentialsId.text(), it.usernameVariable.text(), it.passwordVariable.text()] })
    }

    @Test
    void the_signing_key_is_bound_as_a_secret_file() {
        Node stable = parse(seed([SERVICE + [signingKeyCredentialsId: 'shipmark-key']]).promotionXml('app-carrier').stable)
        def binding = stable.buildWrappers[0].'org.jenkinsci.plugins.credentialsbinding.impl.SecretBuildWrapper'[0].bindings[0]
            .'org.jenkinsci.plugins.credentialsbinding.impl.FileBinding'[0]
        assertEquals(['shipmark-key', 'SHIPMARK_SIGNING_KEY'], [binding.credentialsId.text(), binding.variable.text()])
    }

    @Test
    void the_policy_is_part_of_the_promotion_step_and_no_build_parameter() {
        JobDslStandIn dsl = seed([SERVICE])
        ['app-carrier', 'app-acceptance-passed'].each { String job ->
            Node project = parse(dsl.projectXml(job))
            assertEquals(['IMAGE'], project.properties[0].'hudson.model.ParametersDefinitionProperty'[0].parameterDefinitions[0].children()*.name*.text().flatten())
        }
        dsl.promotionXml('app-carrier').each { String name, String xml ->
            assertTrue(name, parse(xml).buildSteps[0].'hudson.tasks.Shell'[0].command.text().contains(' --policy /etc/shipmark/app.yaml --json'))
        }
    }

    @Test
    void channel_names_can_be_changed_and_the_stable_process_follows_the_qa_one() {
        Map<String, String> promotions = seed([SERVICE + [qaChannel: 'qa', stableChannel: 'production']]).promotionXml('app-carrier')
        assertEquals(['qa', 'production'], promotions.keySet() as List)
        Node production = parse(promotions.production)
        assertEquals('qa', production.conditions[0].'hudson.plugins.promoted__builds.conditions.UpstreamPromotionCondition'[0].requiredPromotionNames.text())
        assertTrue(production.buildSteps[0].'hudson.tasks.Shell'[0].command.text().contains('--to production --keep-build-for production '))
    }

    @Test
    void no_configured_value_except_checked_channel_names_enters_a_shell_script() {
        Map nasty = [name: 'app', approvers: "alice'; rm -rf / #", credentialsId: '$(touch /tmp/pwned)', label: 'a && b',
                     jenkinsCredentialsId: '`id`', signingKeyCredentialsId: '; rm -rf /']
        JobDslStandIn dsl = seed([nasty])
        List<String> commands = []
        dsl.jobs.keySet().each { String job ->
            commands.addAll(parse(dsl.projectXml(job)).builders[0].'hudson.tasks.Shell'*.command*.text().flatten())
            dsl.promotionXml(job).values().each { commands.addAll(parse(it).buildSteps[0].'hudson.tasks.Shell'*.command*.text().flatten()) }
        }
        assertEquals(4, commands.size())
        commands.each { String command ->
            ['rm -rf', 'touch', '`id`', 'a && b'].each { assertFalse("${it} in ${command}", command.contains(it)) }
        }
    }

    @Test
    void the_script_runs_in_the_job_dsl_sandbox_without_binding_variables() {
        // script-security does not whitelist Binding.getVariables; the services come by name.
        assertFalse(SCRIPT.text.contains('binding.variables'))
        assertFalse(SCRIPT.text.contains('getBinding'))
        assertEquals(['app-carrier', 'app-acceptance-passed'], seed([SERVICE]).jobs.keySet() as List)
    }

    @Test
    void it_refuses_bad_configuration_with_a_clear_message() {
        Map<Object, String> cases = [
            ([[name: 'app']])                                      : "carrier-jobs: service app needs 'approvers'",
            ([[name: 'app', approvers: 'ops', aprovers: 'x']])     : 'carrier-jobs: unknown key(s) aprovers in service app; valid keys: ' +
                'name, approvers, credentialsId, jenkinsCredentialsId, signingKeyCredentialsId, policy, label, qaChannel, stableChannel, buildsToKeep',
            ([[name: 'app', approvers: 'ops', stableChannel: 'prod; rm -rf /']]): "carrier-jobs: 'prod; rm -rf /' may contain only letters, digits, '.', '_' and '-'",
            ([[name: 'app', approvers: 'ops', policy: '`id`.yaml']]): "carrier-jobs: policy '`id`.yaml' may contain only letters, digits, '.', '_', '-' and '/'",
            ([])                                                   : 'carrier-jobs: pass shipmarkServices',
        ]
        cases.each { List services, String expected ->
            try {
                seed(services)
                fail("expected ${services} to be refused")
            } catch (IllegalArgumentException e) {
                assertTrue("${e.message} should start with ${expected}", e.message.startsWith(expected))
            }
        }
    }

    @Test
    void the_image_step_writes_the_digest_reference_and_refuses_anything_else() {
        String step = parse(seed([SERVICE]).projectXml('app-carrier')).builders[0].'hudson.tasks.Shell'[0].command.text()
        File dir = File.createTempDir('carrier-', '')
        scratch << dir
        File script = new File(dir, 'step.sh')
        script.text = step
        String image = 'registry.example.com:5000/team/app@sha256:' + 'a' * 64
        Map ok = BashRun.run(['bash', script.path], dir, [IMAGE: image])
        assertEquals(ok.toString(), 0, ok.status)
        assertEquals(image + '\n', new File(dir, 'shipmark-image.txt').text)
        Map bad = BashRun.run(['bash', script.path], dir, [IMAGE: 'registry.example.com:5000/team/app:latest'])
        assertEquals(2, bad.status)
        assertTrue(bad.stderr, bad.stderr.contains('IMAGE must be a digest reference'))
        assertEquals(1, BashRun.run(['bash', script.path], dir, [:]).status)
    }

    @Test
    void the_promotion_step_runs_shipmark_from_promotion_without_tracing_values() {
        String step = parse(seed([SERVICE]).promotionXml('app-carrier').stable).buildSteps[0].'hudson.tasks.Shell'[0].command.text()
        assertTrue(step.startsWith('#!/bin/bash\nset -euo pipefail\n'))
        assertFalse(step.contains('set -x'))
        File dir = File.createTempDir('promotion-', '')
        scratch << dir
        File fake = new File(dir, 'fake-shipmark')
        fake.text = '#!/bin/sh\nprintf "%s\\n" "$@" > "$(dirname "$0")/argv.txt"\n'
        fake.setExecutable(true)
        File script = new File(dir, 'step.sh')
        script.text = step
        fake.text = '#!/bin/sh\nprintf "%s\\n" "$@" > "$(dirname "$0")/argv.txt"\nprintf "%s" "$SHIPMARK_BY" > "$(dirname "$0")/by.txt"\n'
        Map run = BashRun.run(['bash', script.path], dir, [IMAGE: 'r/app@sha256:' + 'a' * 64, SHIPMARK: fake.path,
                                                          PROMOTED_USER_ID: 'alice', BUILD_URL: 'https://ci/job/app-carrier/3/promotion/stable/promotionBuild/1/'])
        assertEquals(run.toString(), 0, run.status)
        assertEquals(['promote', '--from-promotion', '--to', 'stable', '--keep-build-for', 'stable', '--policy', '/etc/shipmark/app.yaml', '--json'],
            new File(dir, 'argv.txt').readLines())
        assertEquals('alice via https://ci/job/app-carrier/3/promotion/stable/promotionBuild/1/', new File(dir, 'by.txt').text)
        BashRun.run(['bash', script.path], dir, [IMAGE: 'r/app@sha256:' + 'a' * 64, SHIPMARK: fake.path, PROMOTED_USER_ID: 'unknown'])
        assertEquals('', new File(dir, 'by.txt').text)
    }
}

/** Runs a command with extra environment variables; returns [status:, stdout:, stderr:]. */
class BashRun {
    static Map run(List<String> command, File dir, Map<String, String> env) {
        ProcessBuilder builder = new ProcessBuilder(command).directory(dir)
        builder.environment().putAll(env)
        Process process = builder.start()
        process.outputStream.close()
        StringBuilder out = new StringBuilder()
        StringBuilder err = new StringBuilder()
        process.waitForProcessOutput(out, err)
        return [status: process.exitValue(), stdout: out.toString(), stderr: err.toString()]
    }
}
