// Pipeline steps the library runs per helper call, counted from the Groovy harness's recorded
// calls (tests/groovy/harness/PipelineHarness.groovy of the tree given as -Dshipmark.root).
// Steps a step runs for its own purpose (archiveArtifacts, badges, echo, input, the user's
// apply command) are not overhead; everything else recorded around a helper call is.
// Run it with bench/step_overhead.sh [ROOT].

@groovy.transform.Field List<String> own = ['archiveArtifacts', 'addBadge', 'addShortText', 'echo', 'input', 'publishHTML', 'error']

Map measure(String title, Closure run) {
    def h = Class.forName('PipelineHarness').newInstance()
    h.credentials['registry-creds'] = [username: 'u', password: 'p']
    h.helper = { String command, List argv, Map env -> [status: 0, json: command == 'plan' ? [services: [[name: 'app', image: 'r/app@sha256:' + 'a' * 64]]] : [:]] }
    try {
        run.call(h)
        List calls = h.calls.findAll { !(it.step in own) && !(it.step == 'sh' && it.args.script == './apply.sh') }
        int helperCalls = h.helperRuns.size()
        Map<String, Integer> byStep = [:]
        calls.each { byStep[it.step] = (byStep[it.step] ?: 0) + 1 }
        return [title: title, helperCalls: helperCalls, steps: calls.size(), perCall: calls.size() / helperCalls, byStep: byStep]
    } finally {
        h.cleanup()
    }
}

String image = 'registry.example.com/team/app@sha256:' + 'a' * 64
List<Map> rows = [
    measure('rejectImage (1 helper call)') { it.runStep('rejectImage', [image: image, reason: 'bad']) },
    measure('rejectImage with credentialsId') { it.runStep('rejectImage', [image: image, reason: 'bad', credentialsId: 'registry-creds']) },
    measure('deployStable (3 helper calls)') { it.runStep('deployStable', [target: 't', template: 'x.j2', apply: './apply.sh']) },
    measure('3 steps, each with credentialsId') { h ->
        ['markImage', 'promoteImage', 'rejectImage'].each { String step ->
            Map args = [image: image, credentialsId: 'registry-creds']
            args += [markImage: [suite: 'unit', result: 'passed'], promoteImage: [to: 'testing', badge: false], rejectImage: [reason: 'bad']][step]
            h.runStep(step, args)
        }
    },
]
if (new File(System.getProperty('shipmark.root'), 'vars/withShipmark.groovy').exists()) {
    rows << measure('3 steps inside withShipmark') { h ->
        h.loadStep('withShipmark').call([credentialsId: 'registry-creds']) {
            h.runStep('markImage', [image: image, suite: 'unit', result: 'passed'])
            h.runStep('promoteImage', [image: image, to: 'testing', badge: false])
            h.runStep('rejectImage', [image: image, reason: 'bad'])
        }
    }
}
rows.each { Map r ->
    printf('%-34s helper calls %d  pipeline steps %3d  per call %5.2f  %s%n', r.title, r.helperCalls, r.steps, r.perCall as double, r.byStep)
}
