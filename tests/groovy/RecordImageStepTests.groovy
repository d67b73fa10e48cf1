import org.junit.Test

import static org.junit.Assert.assertEquals
import static org.junit.Assert.assertTrue

class RecordImageStepTests extends StepTestCase {

    static final String IMAGE = 'registry.example.com:5000/team/app:1.4.2-b7.20261128.abc1234'
    static final String DIGEST = 'sha256:' + '0123456789abcdef' * 4
    static final Map RECORDED = [image: IMAGE, digest: DIGEST, record: 'sha256:' + 'f' * 64,
                                 files: ['shipmark/provenance.json', 'shipmark/description.txt']]

    @Test
    void it_runs_record_with_the_out_dir_and_the_image_after_double_dash() {
        recordWrites('app 1.4.2-b7 from abc1234', RECORDED)
        assertEquals(RECORDED, h.runStep('recordImage', [image: IMAGE]))
        assertEquals(['record'], commands())
        assertEquals(['--out-dir=shipmark', '--', IMAGE], argvOf('record'))
        ShipmarkRunnerTests.assertRanHelper(h, 'record')
    }

    @Test
    void it_passes_the_provenance_it_is_given() {
        recordWrites('x')
        h.runStep('recordImage', [image: IMAGE, outDir: 'out/prov', gitCommit: 'abc1234', gitBranch: 'master',
                                  gitUrl: 'https://gitlab.example.com/team/app.git', buildUrl: 'https://jenkins.example.com/job/app/7/',
                                  baseImage: 'debian:12', materials: ['pkg:deb/app-core@1.4.2=sha256:' + 'b' * 64, 'pkg:deb/libfoo@2=sha256:' + 'c' * 64]])
        assertEquals(['--out-dir=out/prov', '--git-commit=abc1234', '--git-branch=master', '--git-url=https://gitlab.example.com/team/app.git',
                      '--build-url=https://jenkins.example.com/job/app/7/', '--base-image=debian:12',
                      '--material=pkg:deb/app-core@1.4.2=sha256:' + 'b' * 64, '--material=pkg:deb/libfoo@2=sha256:' + 'c' * 64,
                      '--', IMAGE], argvOf('record'))
        assertEquals('out/prov/provenance.json', h.callsOf('archiveArtifacts')[0].args.artifacts)
    }

    @Test
    void it_archives_and_fingerprints_the_provenance() {
        recordWrites('x')
        h.runStep('recordImage', [image: IMAGE])
        assertEquals([[artifacts: 'shipmark/provenance.json', fingerprint: true]], h.callsOf('archiveArtifacts')*.args)
    }

    @Test
    void it_sets_the_build_description_from_the_rendered_file() {
        recordWrites('app 1.4.2-b7 (abc1234 on master)\n')
        h.runStep('recordImage', [image: IMAGE])
        assertEquals('app 1.4.2-b7 (abc1234 on master)', h.currentBuild.description)
    }

    @Test
    void it_adds_its_paragraph_after_the_users_own_and_replaces_it_later() {
        recordWrites('shipmark: app:1\nQA: not tested yet')
        h.currentBuild.description = 'Release candidate\nfor the March train'
        h.runStep('recordImage', [image: IMAGE])
        assertEquals('Release candidate\nfor the March train\n\nshipmark: app:1\nQA: not tested yet', h.currentBuild.description)
        recordWrites('shipmark: app:1\nQA: not tested yet\n\nshipmark: app:2\nQA: not tested yet')
        h.runStep('recordImage', [image: IMAGE])
        assertEquals('Release candidate\nfor the March train\n\nshipmark: app:1\nQA: not tested yet\n\nshipmark: app:2\nQA: not tested yet',
            h.currentBuild.description)
    }

    @Test
    void an_html_description_comes_from_description_html() {
        recordWrites('<div class="shipmark" data-digest="sha256:1"><b>app</b></div>')
        h.currentBuild.description = '<p>mine</p>\n\n<div class="shipmark" data-digest="sha256:0">old</div>'
        h.runStep('recordImage', [image: IMAGE, descriptionFormat: 'html'])
        assertTrue(argvOf('record').contains('--description-format=html'))
        assertEquals('<p>mine</p>\n\n<div class="shipmark" data-digest="sha256:1"><b>app</b></div>', h.currentBuild.description)
        assertTrue(errorFrom { h.runStep('recordImage', [image: IMAGE, descriptionFormat: 'markdown']) }.contains("'text' or 'html'"))
    }

    @Test
    void it_can_skip_archive_description_and_badge() {
        recordWrites('x')
        h.runStep('recordImage', [image: IMAGE, archive: false, description: false, badge: false])
        assertEquals([], h.callsOf('archiveArtifacts'))
        assertEquals(null, h.currentBuild.description)
        assertEquals([], h.callsOf('addShortText'))
    }

    @Test
    void it_adds_a_badge_with_the_tag_or_the_short_digest() {
        recordWrites('x', RECORDED)
        h.runStep('recordImage', [image: IMAGE])
        h.runStep('recordImage', [image: 'registry.example.com:5000/team/app@' + DIGEST])
        assertEquals(['1.4.2-b7.20261128.abc1234', '0123456789ab'], h.callsOf('addBadge')*.args*.text)
    }

    @Test
    void it_carries_on_without_the_badge_plugin() {
        recordWrites('x', RECORDED)
        h.absentSteps.addAll(['addBadge', 'addShortText'])
        assertEquals(RECORDED, h.runStep('recordImage', [image: IMAGE]))
    }

    @Test
    void it_fails_with_shipmarks_message_and_archives_nothing() {
        answer(record: [status: 4, json: [error: [type: 'NotFoundError', message: "image ${IMAGE} not found".toString(),
                                                  hint: 'push the image before recording it']]])
        assertEquals("recordImage: image ${IMAGE} not found\nhint: push the image before recording it".toString(),
            errorFrom { h.runStep('recordImage', [image: IMAGE]) })
        assertEquals([], h.callsOf('archiveArtifacts'))
    }

    @Test
    void it_fails_on_unknown_argument() {
        assertEquals("recordImage: unknown argument 'commit'; valid arguments: image, outDir, gitCommit, gitBranch, gitUrl, buildUrl, " +
            'baseImage, materials, archive, description, descriptionFormat, badge, credentialsId, jenkinsCredentialsId, signingKeyCredentialsId',
            errorFrom { h.runStep('recordImage', [image: IMAGE, commit: 'abc']) })
        assertEquals([], h.shells)
    }

    @Test
    void it_requires_an_image() {
        assertEquals("recordImage: the 'image' argument is required", errorFrom { h.runStep('recordImage', [:]) })
        assertEquals("recordImage: the 'image' argument is required", errorFrom { h.runStep('recordImage') })
    }

    @Test
    void it_binds_registry_credentials_into_the_helpers_variables() {
        recordWrites('x')
        h.runStep('recordImage', [image: IMAGE, credentialsId: 'registry-creds'])
        assertEquals('reg-user', h.helperRuns[0].env.SHIPMARK_REGISTRY_USERNAME)
        assertEquals('reg-secret-value', h.helperRuns[0].env.SHIPMARK_REGISTRY_PASSWORD)
        assertEquals(null, h.helperRuns[0].env.JENKINS_API_TOKEN)
    }
}
