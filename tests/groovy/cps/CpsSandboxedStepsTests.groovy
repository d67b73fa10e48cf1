import org.junit.After
import org.junit.Before

import static org.junit.Assert.assertEquals

/**
 * The step scenarios of CpsStepsTests again, with the library compiled and run as a sandboxed
 * (folder-level) library: no call it makes may match script-security's default blacklist.
 */
class CpsSandboxedStepsTests extends CpsStepsTests {

    ScriptSecurityBlacklist recorder = new ScriptSecurityBlacklist()

    CpsSandboxedStepsTests() {
        helper = new SandboxedHelper()
    }

    @Before
    void record() {
        recorder.register()
    }

    @After
    void noBlacklistedCalls() {
        recorder.unregister()
        assert recorder.calls || !helper.callStack: 'the sandbox saw no calls: the library did not run sandboxed'
        assertEquals([], recorder.violations())
    }
}
