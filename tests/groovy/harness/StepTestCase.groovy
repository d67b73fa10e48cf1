import org.junit.After
import org.junit.Before

import static org.junit.Assert.fail

/** Base of the step tests: a fresh harness per test, with credentials the steps may ask for. */
abstract class StepTestCase {

    PipelineHarness h

    @Before
    void createHarness() {
        h = new PipelineHarness()
        h.credentials['registry-creds'] = [username: 'reg-user', password: 'reg-secret-value']
        h.credentials['jenkins-creds'] = [username: 'jenkins-bot', password: 'jenkins-token-value']
        h.credentials['signing-key'] = [content: '-----BEGIN PRIVATE KEY-----\nfake\n-----END PRIVATE KEY-----\n']
    }

    @After
    void removeHarness() {
        h?.cleanup()
    }

    /** Runs body and returns the message of the error step it ended with; fails when it did not. */
    String errorFrom(Closure body) {
        try {
            body.call()
        } catch (PipelineError e) {
            return e.message
        }
        fail('expected the step to fail with error(...)')
        return null
    }

    /** Answers helper commands from a map command -> [status:, json:], e.g. [promote: [status: 3, json: ...]]. */
    void answer(Map<String, Map> byCommand) {
        h.helper = { String command, List argv, Map env -> byCommand.containsKey(command) ? byCommand[command] : [status: 0, json: [:]] }
    }

    /**
     * A fake helper that behaves like `shipmark record`: writes OUT/provenance.json and
     * OUT/description.txt (OUT from --out-dir) and answers with the given JSON.
     */
    void recordWrites(String description, Map json = [:], Map<String, Map> others = [:]) {
        h.helper = { String command, List argv, Map env ->
            if (command == 'record') {
                String outDir = argv.find { it.startsWith('--out-dir=') }?.substring('--out-dir='.length()) ?: 'shipmark'
                File dir = h.file(outDir)
                dir.mkdirs()
                new File(dir, 'provenance.json').text = '{"_type": "https://in-toto.io/Statement/v1"}'
                String format = argv.find { it.startsWith('--description-format=') }?.substring('--description-format='.length()) ?: 'text'
                String name = format == 'html' ? 'description.html' : 'description.txt'
                new File(dir, name).text = description
                return [status: 0, json: [files: ["${outDir}/provenance.json".toString(), "${outDir}/${name}".toString()]] + json]
            }
            return others.containsKey(command) ? others[command] : [status: 0, json: [:]]
        }
    }

    /** The argv of the only (or the given) helper run of a command. */
    List argvOf(String command, int index = 0) {
        List runs = h.helperRuns.findAll { it.command == command }
        assert runs.size() > index: "expected a shipmark ${command} run, got ${h.helperRuns*.command}"
        return runs[index].argv
    }

    List<String> commands() {
        return h.helperRuns.collect { it.command }
    }
}
