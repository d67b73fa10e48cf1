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
        outDir              : 'shipmark', // workspace directory for provenance.json and description.txt
        gitCommit           : null,       // commit the image was built from; helper default: GIT_COMMIT
        gitBranch           : null,       // branch; helper default: GIT_BRANCH
        gitUrl              : null,       // repository URL; helper default: GIT_URL
        buildUrl            : null,       // build that made the image; helper default: BUILD_URL
        baseImage           : null,       // base image reference, recorded as a material
        materials           : [],         // more materials, each 'URI=sha256:HEX' (e.g. deb packages from Aptly)
        archive             : true,       // archive and fingerprint OUTDIR/provenance.json
        description         : true,       // set the build description from OUTDIR/description.txt
        badge               : true,       // add a short-text badge with the version tag (Badge plugin)
        credentialsId       : null,       // Jenkins username/password credentials for the registry
        jenkinsCredentialsId: null,       // Jenkins user + API token credentials for Jenkins REST
    ]
    String problem = StepArgs.check(defaults, args, 'recordImage', ['image'])
    if (problem) {
        error(problem)
    }
    Map opts = defaults + args

    List<String> argv = new ShipmarkArgs()
        .option('out-dir', opts.outDir)
        .option('git-commit', opts.gitCommit)
        .option('git-branch', opts.gitBranch)
        .option('git-url', opts.gitUrl)
        .option('build-url', opts.buildUrl)
        .option('base-image', opts.baseImage)
        .options('material', opts.materials)
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
    String descriptionFile = "${opts.outDir}/description.txt"
    if (opts.description && fileExists(descriptionFile)) {
        String text = readFile(file: descriptionFile).trim()
        String current = currentBuild.description
        if (text && current && !current.contains(text)) {
            currentBuild.description = "${current}\n${text}"
        } else if (text && !current) {
            currentBuild.description = text
        }
    }
    Map json = result.json ?: [:]
    if (opts.badge) {
        shipmark.badge(ImageLabel.of(opts.image, json.digest))
    }
    echo("recordImage: recorded provenance for ${json.image ?: opts.image}")
    return json
}
