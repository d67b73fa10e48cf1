import com.cloudbees.groovy.cps.NonCPS
import dev.shipmark.Outcome
import dev.shipmark.ShipmarkArgs
import dev.shipmark.ShipmarkRunner
import dev.shipmark.StepArgs

/**
 * Writes the release board (services x recent versions, one self-contained HTML page) and publishes
 * it with the HTML Publisher plugin when it is installed. Help: releaseBoard.txt.
 */
def call(Map args = [:]) {
    Map defaults = [
        services     : 'deploy/services.yaml', // services file (workspace-relative)
        channel      : null,                   // channel whose next image is marked; helper default: the file's, else stable
        target       : null,                   // deployment target shown; helper default: the file's
        out          : 'board.html',           // the page to write (workspace-relative)
        versions     : null,                   // versions per service; helper default 15
        title        : null,                   // page title; helper default 'Release board'
        publish      : true,                   // publish the page with publishHTML (HTML Publisher plugin)
        credentialsId: null,                   // Jenkins username/password credentials for the registry
    ]
    String problem = StepArgs.check(defaults, args, 'releaseBoard', ['services', 'out'])
    if (problem) {
        error(problem)
    }
    Map opts = defaults + args

    List<String> argv = new ShipmarkArgs()
        .option('services', opts.services)
        .option('channel', opts.channel)
        .option('target', opts.target)
        .option('out', opts.out)
        .option('versions', opts.versions)
        .option('title', opts.title)
        .toList()
    ShipmarkRunner shipmark = new ShipmarkRunner(this, 'releaseBoard', opts)
    Outcome outcome = shipmark.run('board', argv)
    if (!outcome.ok) {
        error(outcome.failure('releaseBoard'))
    }
    if (opts.publish) {
        Map place = splitPath(opts.out.toString())
        try {
            publishHTML(target: [reportDir: place.dir, reportFiles: place.file, reportName: opts.title ?: 'Release board',
                                 keepAll: true, alwaysLinkToLastBuild: true, allowMissing: false])
        } catch (NoSuchMethodError ignored) {
            echo('releaseBoard: the HTML Publisher plugin is not installed; archive the page instead')
        } catch (MissingMethodException ignored) {
            echo('releaseBoard: the HTML Publisher plugin is not installed; archive the page instead')
        }
    }
    echo("releaseBoard: wrote ${opts.out}")
    return outcome.json ?: [:]
}

/** 'reports/board.html' -> [dir: 'reports', file: 'board.html']; a bare name lives in '.'. */
@NonCPS
Map splitPath(String path) {
    int slash = path.lastIndexOf('/')
    return slash < 0 ? [dir: '.', file: path] : [dir: path.substring(0, slash) ?: '/', file: path.substring(slash + 1)]
}
