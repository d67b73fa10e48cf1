import org.junit.runner.Description
import org.junit.runner.JUnitCore
import org.junit.runner.Request
import org.junit.runner.Result
import org.junit.runner.notification.Failure
import org.junit.runner.notification.RunListener

/**
 * Runs the given JUnit 4 test classes and ends with one plain line for CI:
 * "groovy: 42 passed, 0 failed" (", 3 skipped" when tests were skipped; system property
 * shipmark.summary names the suite instead of "groovy"). Exit status 1 on failures.
 * An argument of the form Class#method runs that one test method.
 */
class TestMain {

    static void main(String[] args) {
        JUnitCore core = new JUnitCore()
        Counter counter = new Counter()
        core.addListener(counter)
        for (String name : args) {
            Request request
            if (name.contains('#')) {
                List<String> parts = name.split('#') as List<String>
                request = Request.method(Class.forName(parts[0]), parts[1])
            } else {
                request = Request.aClass(Class.forName(name))
            }
            core.run(request)
        }
        counter.failures.each { Failure failure ->
            System.out.println("FAILED ${failure.testHeader}")
            System.out.println(failure.trimmedTrace.readLines().take(25).collect { '    ' + it }.join('\n'))
        }
        int passed = counter.finished - counter.failed - counter.assumptionFailed
        String suite = System.getProperty('shipmark.summary', 'groovy')
        String line = "${suite}: ${Math.max(passed, 0)} passed, ${counter.failures.size()} failed"
        int skipped = counter.ignored + counter.assumptionFailed
        if (skipped) {
            line += ", ${skipped} skipped"
        }
        System.out.println(line)
        System.exit(counter.failures ? 1 : 0)
    }
}

class Counter extends RunListener {
    int finished = 0
    int failed = 0
    int assumptionFailed = 0
    int ignored = 0
    List<Failure> failures = []

    @Override
    void testFinished(Description description) {
        finished++
        System.out.flush()
    }

    @Override
    void testFailure(Failure failure) {
        failures << failure
        if (failure.description.methodName != null) {
            failed++
        }
        System.out.println("  FAIL ${failure.description.displayName}")
    }

    @Override
    void testAssumptionFailure(Failure failure) {
        assumptionFailed++
        System.out.println("  SKIP ${failure.description.displayName}: ${failure.message}")
    }

    @Override
    void testIgnored(Description description) {
        ignored++
        System.out.println("  SKIP ${description.displayName}")
    }
}
