import org.junit.Test

import static org.junit.Assert.assertEquals
import static org.junit.Assert.assertTrue

class ReleaseBoardStepTests extends StepTestCase {

    @Test
    void it_writes_the_board_and_publishes_it() {
        h.runStep('releaseBoard', [out: 'reports/board.html', title: 'Stable'])
        assertEquals(['--services=deploy/services.yaml', '--out=reports/board.html', '--title=Stable'], argvOf('board'))
        ShipmarkRunnerTests.assertRanHelper(h, 'board')
        assertEquals([target: [reportDir: 'reports', reportFiles: 'board.html', reportName: 'Stable', keepAll: true,
                               alwaysLinkToLastBuild: true, allowMissing: false]], h.callsOf('publishHTML')[0].args)
    }

    @Test
    void it_passes_channel_target_and_versions() {
        h.runStep('releaseBoard', [channel: 'stable', target: 'stable-server', versions: 20, publish: false])
        assertEquals(['--services=deploy/services.yaml', '--channel=stable', '--target=stable-server', '--out=board.html', '--versions=20'], argvOf('board'))
        assertEquals([], h.callsOf('publishHTML'))
    }

    @Test
    void it_carries_on_without_the_html_publisher() {
        h.absentSteps << 'publishHTML'
        h.runStep('releaseBoard', [:])
        assertTrue(h.log.contains('releaseBoard: the HTML Publisher plugin is not installed; archive the page instead'))
    }

    @Test
    void it_fails_with_shipmarks_message() {
        answer(board: [status: 2, json: [error: [message: 'services.yaml: unknown service key "imgae"', hint: 'see the schema']]])
        assertEquals('releaseBoard: services.yaml: unknown service key "imgae"\nhint: see the schema', errorFrom { h.runStep('releaseBoard', [:]) })
        assertEquals([], h.callsOf('publishHTML'))
    }

    @Test
    void it_fails_on_unknown_argument() {
        assertEquals("releaseBoard: unknown argument 'file'; valid arguments: services, channel, target, out, versions, title, publish, credentialsId",
            errorFrom { h.runStep('releaseBoard', [file: 'x.html']) })
    }
}
