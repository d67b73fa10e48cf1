import org.junit.After
import org.junit.Before

import static org.junit.Assert.assertEquals

/** The example pipelines of CpsExamplesTests again, sandboxed: no call may match the blacklist. */
class CpsSandboxedExamplesTests extends CpsExamplesTests {

    ScriptSecurityBlacklist recorder = new ScriptSecurityBlacklist()

    CpsSandboxedExamplesTests() {
        helper = new SandboxedHelper()
    }

    @Before
    void record() {
        recorder.register()
    }

    @After
    void noBlacklistedCalls() {
        recorder.unregister()
        assert recorder.calls || !helper.callStack: 'the sandbox saw no calls: the pipeline did not run sandboxed'
        assertEquals([], recorder.violations())
    }
}
