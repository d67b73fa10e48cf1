import com.cloudbees.groovy.cps.NonCPS
import dev.shipmark.Description
import dev.shipmark.ImageLabel
import dev.shipmark.Outcome
import dev.shipmark.ShipmarkArgs
import dev.shipmark.ShipmarkRunner
import dev.shipmark.StepArgs

/**
 * Records where a pushed image came from (a provenance record on the image in the registry),
 * archives and fingerprints shipmark/provenance.json, sets the build description and adds a badge.
 * Help: recordImage.txt.
 */
def call(Map args = [:]) {
    Map defaults = [
        image               : null,       // pushed image, repo:tag or repo@sha256:... (required)
        outDir              : 'shipmark', // workspace directory for provenance.json and description.txt (.html)
        gitCommit           : null,       // commit the image was built from; helper default: GIT_COMMIT
        gitBranch           : null,       // branch; helper default: GIT_BRANCH
        gitUrl              : null,       // repository URL; helper default: GIT_URL
        buildUrl            : null,       // build that made the image; helper default: BUILD_URL
        baseImage           : null,       // base image reference, recorded as a material
        materials           : [],         // more materials, each 'URI=sha256:HEX' (e.g. deb packages from Aptly)
        archive             : true,       // archive and fingerprint OUTDIR/provenance.json
        description         : true,       // set shipmark's paragraph of the build description
        descriptionFormat   : 'text',     // 'text' (Jenkins' default formatter) or 'html' (a Safe HTML formatter)
        badge               : true,       // add a text badge with the version tag (Badge plugin)
        credentialsId       : null,       // Jenkins username/password credentials for the registry
        jenkinsCredentialsId: null,       // Jenkins user + API token credentials for Jenkins REST
        signingKeyCredentialsId: null,    // Jenkins secret file credentials with the key that signs the record
    ]
    String problem = StepArgs.check(defaults, args, 'recordImage', ['image'])
    if (problem) {
        error(problem)
    }
    Map opts = defaults + args
    if (!(opts.descriptionFormat in ['text', 'html'])) {
        error("recordImage: 'descriptionFormat' must be 'text' or 'html', got '${opts.descriptionFormat}'")
    }

    List<String> argv = new ShipmarkArgs()
        .option('out-dir', opts.outDir)
        .option('git-commit', opts.gitCommit)
        .option('git-branch', opts.gitBranch)
        .option('git-url', opts.gitUrl)
        .option('build-url', opts.buildUrl)
        .option('base-image', opts.baseImage)
        .options('material', opts.materials)
        .option('description-format', opts.descriptionFormat == 'text' ? null : opts.descriptionFormat)
        .positional(opts.image)
        .toList()

    ShipmarkRunner shipmark = new ShipmarkRunner(this, 'recordImage', opts)
    Outcome result = shipmark.run('record', argv)
    if (!result.ok) {
        error(result.failure('recordImage'))
    }

    String provenance = "${opts.outDir}/provenance.json"
    if (opts.archive) {
        archiveArtifacts(artifacts: provenance, fingerprint: true)
    }
    Map json = result.json ?: [:]
    String descriptionFile = descriptionFileOf(json, opts.descriptionFormat)
    if (opts.description && descriptionFile) {
        currentBuild.description = Description.merge(currentBuild.description, readFile(file: descriptionFile))
    }
    if (opts.badge) {
        shipmark.badge(ImageLabel.of(opts.image, json.digest), "shipmark-${json.digest ?: opts.image}")
    }
    echo("recordImage: recorded provenance for ${json.image ?: opts.image}")
    return json
}

/** The description file the helper says it wrote: description.txt, or description.html for 'html'. */
@NonCPS
String descriptionFileOf(Map json, String format) {
    String suffix = format == 'html' ? '/description.html' : '/description.txt'
    Object file = (json.files ?: []).find { Object f -> f.toString().endsWith(suffix) || f.toString() == suffix.substring(1) }
    return file?.toString()
}
