import groovy.json.JsonSlurper
import org.junit.After
import org.junit.Assume
import org.junit.Before
import org.junit.Test

import static org.junit.Assert.assertEquals
import static org.junit.Assert.assertFalse
import static org.junit.Assert.assertTrue

/**
 * The example service and acceptance pipelines, run unchanged through the harness with `sh`
 * executing for real: the steps bootstrap and call the real `shipmark` helper, which writes to a
 * real Docker Registry 2.8 on loopback; skopeo and oras then check the tags and records.
 *
 * Skipped unless SHIPMARK_E2E_REGISTRY=host:port names a running registry and `shipmark` is on
 * PATH. With SHIPMARK_E2E_CA_FILE (the CA of a registry serving HTTPS, as scripts/test.sh starts
 * it) the helper trusts that CA through SHIPMARK_CA_FILE and oras through --ca-file; without it
 * the registry is plain HTTP on loopback. The service repository's scripts are stand-ins written by the test: build-and-push makes
 * a one-layer image as an OCI layout and pushes it with skopeo copy (or crane push), the test
 * scripts write passing JUnit XML. The policy is the example's own shipmark.yaml.
 */
class EndToEndTests {

    static final String REGISTRY = System.getenv('SHIPMARK_E2E_REGISTRY')
    static final String CA_FILE = System.getenv('SHIPMARK_E2E_CA_FILE')
    static final File EXAMPLES = new File(PipelineHarness.ROOT, 'examples/service')

    String repo
    List<PipelineHarness> harnesses = []

    @Before
    void requireRegistryAndHelper() {
        Assume.assumeTrue('set SHIPMARK_E2E_REGISTRY=host:port of a running Docker Registry 2.8', REGISTRY as boolean)
        Assume.assumeTrue('shipmark is not on PATH', onPath('shipmark') != null)
        Assume.assumeTrue('skopeo or crane is needed to push the test image', onPath('skopeo') != null || onPath('crane') != null)
        repo = "${REGISTRY}/shipmark-e2e/app-${System.currentTimeMillis()}".toString()
    }

    @After
    void cleanup() {
        harnesses*.cleanup()
    }

    static String onPath(String tool) {
        List<String> dirs = (System.getenv('PATH') ?: '').split(':') as List<String>
        dirs << "${System.getProperty('user.home')}/go/bin".toString()
        File found = dirs.collect { new File(it, tool) }.find { it.canExecute() }
        return found?.path
    }

    static String run(List<String> command) {
        Process process = new ProcessBuilder(command).redirectErrorStream(true).start()
        process.outputStream.close()
        String out = process.inputStream.getText('UTF-8')
        assertEquals("${command.join(' ')}:\n${out}", 0, process.waitFor())
        return out
    }

    /** A harness for one Jenkins build of job, in a workspace holding the service repository. */
    PipelineHarness build(String job, int number, Map<String, String> scripts) {
        PipelineHarness h = new PipelineHarness()
        harnesses << h
        h.realShell = true
        // PATH as the agent has it, plus where go install puts crane and oras.
        String path = ((System.getenv('PATH') ?: '').split(':').toList() + ["${System.getProperty('user.home')}/go/bin".toString()])
            .unique().join(':')
        h.baseEnv.putAll([
            PATH                        : path,
            HOME                        : System.getProperty('user.home'),
            JOB_NAME                    : job,
            BUILD_NUMBER                : number.toString(),
            BUILD_URL                   : "https://jenkins.example.com/job/${job}/${number}/".toString(),
            GIT_COMMIT                  : '0123abc' + '4' * 33,
            GIT_BRANCH                  : 'origin/master',
            GIT_URL                     : 'https://gitlab.example.com/team/app.git',
        ])
        // The helper verifies the registry's certificate against the CA, as an agent would;
        // a plain registry on loopback needs no setting (HTTPS is tried first, then HTTP).
        if (CA_FILE) {
            h.baseEnv.SHIPMARK_CA_FILE = CA_FILE
        }
        h.baseEnv.remove('JENKINS_URL')   // no Jenkins here: the helper's Jenkins updates have nothing to reach
        h.currentBuild.number = number
        h.credentials['docker-registry'] = [username: 'ci', password: 'unused-by-an-open-registry']
        h.credentials['jenkins-api'] = [username: 'ci', password: 'unused-without-jenkins']
        new File(h.workspace, 'shipmark.yaml').text = new File(EXAMPLES, 'shipmark.yaml').text
        new File(h.workspace, 'ci').mkdirs()
        scripts.each { String name, String text ->
            File script = new File(h.workspace, "ci/${name}")
            script.text = text
            script.setExecutable(true)
        }
        return h
    }

    static final String BUILD_AND_PUSH = '''#!/usr/bin/env bash
# Stand-in for the example's ci/build-and-push.sh: a one-layer image as an OCI layout, pushed.
set -euo pipefail
: "${IMAGE_REPO:?}" "${VERSION:?}" "${BUILD_NUMBER:?}" "${GIT_COMMIT:?}"
tag="${VERSION}-b${BUILD_NUMBER}.$(date -u +%Y%m%d).${GIT_COMMIT:0:7}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/rootfs" "$work/layout/blobs/sha256"
printf 'shipmark end-to-end %s %s\\n' "$tag" "$(date +%s%N)" > "$work/rootfs/hello.txt"
tar --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$work/rootfs" -cf "$work/layer.tar" hello.txt
diff_id="sha256:$(sha256sum "$work/layer.tar" | cut -d' ' -f1)"
gzip -n "$work/layer.tar"
blob() { local hex; hex="$(sha256sum "$1" | cut -d' ' -f1)"; cp "$1" "$work/layout/blobs/sha256/$hex"; printf '%s' "$hex"; }
size() { stat -c %s "$1"; }
created="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
printf '{"architecture":"amd64","os":"linux","created":"%s","config":{"Labels":{"org.opencontainers.image.version":"%s","org.opencontainers.image.revision":"%s","org.opencontainers.image.created":"%s"}},"rootfs":{"type":"layers","diff_ids":["%s"]}}' \\
    "$created" "$VERSION" "$GIT_COMMIT" "$created" "$diff_id" > "$work/config.json"
config="$(blob "$work/config.json")"
layer="$(blob "$work/layer.tar.gz")"
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:%s","size":%s}]}' \\
    "$config" "$(size "$work/config.json")" "$layer" "$(size "$work/layer.tar.gz")" > "$work/manifest.json"
manifest="$(blob "$work/manifest.json")"
printf '{"imageLayoutVersion":"1.0.0"}' > "$work/layout/oci-layout"
printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"build"}}]}' \\
    "$manifest" "$(size "$work/manifest.json")" > "$work/layout/index.json"
if command -v skopeo >/dev/null 2>&1; then
    skopeo copy --quiet --dest-tls-verify=false "oci:$work/layout:build" "docker://$IMAGE_REPO:$tag"
    digest="$(skopeo inspect --tls-verify=false --format '{{.Digest}}' "docker://$IMAGE_REPO:$tag")"
else
    crane push --insecure "$work/layout" "$IMAGE_REPO:$tag" >/dev/null
    digest="$(crane digest --insecure "$IMAGE_REPO:$tag")"
fi
printf '%s@%s\\n' "$IMAGE_REPO" "$digest" > image.txt
'''

    static String junitScript(String suite) {
        return """#!/usr/bin/env bash
set -euo pipefail
mkdir -p reports/${suite}
cat > reports/${suite}/TEST-${suite}.xml <<'XML'
<?xml version="1.0" encoding="UTF-8"?>
<testsuite name="${suite}" tests="2" failures="0" errors="0" skipped="0">
  <testcase classname="${suite}" name="starts"/>
  <testcase classname="${suite}" name="answers"/>
</testsuite>
XML
"""
    }

    String digestOf(String reference) {
        return run([onPath('skopeo'), 'inspect', '--tls-verify=false', '--format', '{{.Digest}}', "docker://${reference}".toString()]).trim()
    }

    @Test
    void service_and_acceptance_pipelines_leave_records_and_channel_tags_in_the_registry() {
        Map replace = ['registry.example.com:5000/team/app': repo]

        PipelineHarness service = build('app', 12, ['build-and-push.sh': BUILD_AND_PUSH, 'unit-tests.sh': junitScript('unit')])
        service.runPipeline(new File(EXAMPLES, 'Jenkinsfile'), replace)
        String image = service.callsOf('build').find { it.args.job == 'app-acceptance' }.args.parameters[0].value
        assertTrue(image, image.startsWith("${repo}@sha256:".toString()))
        String digest = image.substring(image.indexOf('@') + 1)
        assertTrue(new File(service.workspace, 'shipmark/provenance.json').exists())
        assertEquals([[artifacts: 'shipmark/provenance.json', fingerprint: true]], service.callsOf('archiveArtifacts')*.args)
        assertTrue('the build description was set', service.currentBuild.description as boolean)
        assertFalse('a promotion to testing keeps no build', service.currentBuild.keepLog)

        PipelineHarness acceptance = build('app-acceptance', 5, ['deploy-testing.sh': '#!/usr/bin/env bash\necho "deploying $IMAGE"\n',
                                                                 'acceptance-tests.sh': junitScript('acceptance')])
        acceptance.params.IMAGE = image
        acceptance.onInput = { Map args -> 'alice' }
        acceptance.runPipeline(new File(EXAMPLES, 'Jenkinsfile.acceptance'), replace)
        assertEquals(1, acceptance.callsOf('input').size())
        assertFalse('the approval holds no node', acceptance.callsOf('input')[0].inNode)
        assertTrue('a promotion to stable keeps the build', acceptance.currentBuild.keepLog)

        if (onPath('skopeo')) {
            ['testing', 'qa-passed', 'stable'].each { String channel ->
                assertEquals("channel ${channel}", digest, digestOf("${repo}:${channel}"))
            }
            List tags = (List) new JsonSlurper().parseText(run([onPath('skopeo'), 'list-tags', '--tls-verify=false', "docker://${repo}".toString()])).Tags
            assertTrue(tags.toString(), tags.containsAll(['testing', 'qa-passed', 'stable']))
        }
        if (onPath('oras')) {
            // oras reads the referrers index that shipmark keeps for other OCI clients (Registry 2.8 has no referrers API).
            List<String> tls = CA_FILE ? ['--ca-file', CA_FILE] : ['--plain-http']
            Map found = (Map) new JsonSlurper().parseText(run([onPath('oras'), 'discover', *tls, '--format', 'json', image]))
            List<Map> records = ((List) (found.referrers ?: found.manifests ?: [])).findAll { it.artifactType == 'application/vnd.shipmark.record.v1+json' }
            Set<String> seen = records.collect { Map r ->
                Map a = (Map) (r.annotations ?: [:])
                [a['dev.shipmark.kind'], a['dev.shipmark.suite'] ?: a['dev.shipmark.channel'] ?: ''].join(':')
            } as Set
            assertEquals(['provenance:', 'test:unit', 'test:acceptance', 'promotion:testing', 'promotion:qa-passed', 'promotion:stable'] as Set, seen)
            Map stable = records.find { it.annotations?.get('dev.shipmark.channel') == 'stable' }
            assertEquals('alice via https://jenkins.example.com/job/app-acceptance/5/', stable.annotations['dev.shipmark.by'])
        }
    }
}
