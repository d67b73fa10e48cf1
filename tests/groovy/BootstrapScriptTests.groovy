import org.junit.After
import org.junit.Assume
import org.junit.Before
import org.junit.Test

import java.security.MessageDigest
import java.util.zip.ZipEntry
import java.util.zip.ZipOutputStream

import static org.junit.Assert.assertEquals
import static org.junit.Assert.assertFalse
import static org.junit.Assert.assertNotEquals
import static org.junit.Assert.assertTrue

/**
 * resources/dev/shipmark/run-shipmark.sh run in bash: shipmark on PATH first, else a virtualenv
 * cached per library version and pip spec. Most tests use a stand-in python
 * (fixtures/fake-python) so they need no network; one builds a real virtualenv from a local wheel.
 */
class BootstrapScriptTests {

    static final File SCRIPT = new File(PipelineHarness.ROOT, 'resources/dev/shipmark/run-shipmark.sh')
    static final File FAKE_HELPER_DIR = new File(PipelineHarness.ROOT, 'tests/groovy/fixtures/fake-helper')
    static final File FAKE_PYTHON = new File(PipelineHarness.ROOT, 'tests/groovy/fixtures/fake-python/python')
    /** A PATH without any shipmark on it. */
    static final String BARE_PATH = '/usr/bin:/bin'

    File dir
    File pythonLog

    @Before
    void setUp() {
        Assume.assumeFalse('a shipmark in /usr/bin or /bin would shadow the virtualenv path', new File('/usr/bin/shipmark').exists() || new File('/bin/shipmark').exists())
        dir = File.createTempDir('bootstrap-', '')
        pythonLog = new File(dir, 'python.log')
    }

    @After
    void tearDown() {
        dir?.deleteDir()
    }

    Map bootstrap(Map<String, String> env, List<String> args = []) {
        Map<String, String> all = [PATH: BARE_PATH, HOME: dir.path, SHIPMARK_LIBRARY_VERSION: '0.1.0',
                                   SHIPMARK_VENV_ROOT: new File(dir, 'venvs').path, FAKE_PYTHON_LOG: pythonLog.path] + env
        ProcessBuilder builder = new ProcessBuilder(['bash', SCRIPT.path] + args).directory(dir)
        builder.environment().clear()
        builder.environment().putAll(all.findAll { k, v -> v != null })
        Process process = builder.start()
        process.outputStream.close()
        StringBuilder out = new StringBuilder()
        StringBuilder err = new StringBuilder()
        process.waitForProcessOutput(out, err)
        return [status: process.exitValue(), stdout: out.toString(), stderr: err.toString()]
    }

    Map withFakePython(Map<String, String> env = [:], List<String> args = []) {
        return bootstrap([SHIPMARK_PYTHON: FAKE_PYTHON.path] + env, args)
    }

    int venvsCreated() {
        return pythonLog.exists() ? pythonLog.readLines().count { it.contains(' -m venv ') } : 0
    }

    @Test
    void it_starts_strict_and_never_traces() {
        List<String> lines = SCRIPT.readLines()
        assertTrue(lines.contains('set -euo pipefail'))
        assertFalse(SCRIPT.text.contains('set -x'))
        assertFalse((SCRIPT.text =~ /set -[a-z]*x/).find())
    }

    @Test
    void it_prints_the_shipmark_on_path() {
        Map run = bootstrap([PATH: "${FAKE_HELPER_DIR.path}:${BARE_PATH}".toString()])
        assertEquals(run.stderr, 0, run.status)
        assertEquals(new File(FAKE_HELPER_DIR, 'shipmark').path + '\n', run.stdout)
        assertEquals(0, venvsCreated())
    }

    @Test
    void with_arguments_it_runs_shipmark_with_them() {
        Map run = bootstrap([PATH: "${FAKE_HELPER_DIR.path}:${System.getenv('PATH')}".toString()], ['status', '--json'])
        assertEquals(run.stderr, 0, run.status)
        assertTrue(run.stdout, run.stdout.contains('"command": "status"'))
    }

    @Test
    void it_needs_the_library_version_only_to_make_a_virtualenv() {
        Map run = bootstrap([SHIPMARK_LIBRARY_VERSION: null])
        assertEquals(2, run.status)
        assertTrue(run.stderr, run.stderr.contains('SHIPMARK_LIBRARY_VERSION is not set'))
        Map onPath = bootstrap([SHIPMARK_LIBRARY_VERSION: null, PATH: "${FAKE_HELPER_DIR.path}:${BARE_PATH}".toString()])
        assertEquals(onPath.stderr, 0, onPath.status)
        assertEquals(new File(FAKE_HELPER_DIR, 'shipmark').path, onPath.stdout.trim())
    }

    @Test
    void without_shipmark_or_python_it_says_what_to_install() {
        Map run = bootstrap([SHIPMARK_PYTHON: '/nonexistent/python3'])
        assertEquals(127, run.status)
        assertTrue(run.stderr, run.stderr.contains('Install shipmark on this agent'))
        assertEquals('', run.stdout)
    }

    @Test
    void it_creates_a_virtualenv_from_the_pip_spec_once_and_reuses_it() {
        Map first = withFakePython([SHIPMARK_PIP_SPEC: 'shipmark==0.1.0'])
        assertEquals(first.stderr, 0, first.status)
        String helper = first.stdout.trim()
        assertTrue(helper, helper.startsWith(new File(dir, 'venvs/0.1.0-').path) && helper.endsWith('/bin/shipmark'))
        assertEquals('installed-from: shipmark==0.1.0\nargs: \n', [helper].execute().text)
        assertTrue(first.stderr.contains('creating'))
        Map second = withFakePython([SHIPMARK_PIP_SPEC: 'shipmark==0.1.0'])
        assertEquals(helper + '\n', second.stdout)
        assertEquals('', second.stderr)
        assertEquals(1, venvsCreated())
    }

    @Test
    void the_cache_is_keyed_by_library_version_and_pip_spec() {
        String a = withFakePython([SHIPMARK_PIP_SPEC: 'shipmark==0.1.0']).stdout.trim()
        String b = withFakePython([SHIPMARK_PIP_SPEC: 'shipmark==0.2.0']).stdout.trim()
        String c = withFakePython([SHIPMARK_PIP_SPEC: 'shipmark==0.1.0', SHIPMARK_LIBRARY_VERSION: '0.2.0']).stdout.trim()
        assertEquals(3, [a, b, c].unique().size())
        assertTrue(c, c.contains('/venvs/0.2.0-'))
        assertEquals(3, venvsCreated())
    }

    @Test
    void by_default_it_installs_the_librarys_own_python_directory_when_reachable() {
        File library = new File(dir, 'library')
        new File(library, 'python/shipmark').mkdirs()
        new File(library, 'python/pyproject.toml').text = '[project]\nname = "shipmark"\n'
        new File(library, 'python/shipmark/__init__.py').text = 'VERSION = 1\n'
        String helper = withFakePython([SHIPMARK_LIBRARY_DIR: library.path]).stdout.trim()
        assertEquals("installed-from: ${library.path}/python".toString(), [helper].execute().text.readLines()[0])
        new File(library, 'python/shipmark/__init__.py').text = 'VERSION = 2\n'
        String changed = withFakePython([SHIPMARK_LIBRARY_DIR: library.path]).stdout.trim()
        assertNotEquals('a changed python/ directory must not reuse the old virtualenv', helper, changed)
    }

    @Test
    void otherwise_it_installs_the_shipmark_package() {
        String helper = withFakePython([SHIPMARK_LIBRARY_DIR: new File(dir, 'no-such-library').path]).stdout.trim()
        assertEquals('installed-from: shipmark', [helper].execute().text.readLines()[0])
    }

    @Test
    void it_never_shows_a_password_from_the_pip_spec() {
        Map run = withFakePython([SHIPMARK_PIP_SPEC: 'https://builder:s3cret-token@pypi.example.com/simple/shipmark.whl'])
        assertEquals(0, run.status)
        assertFalse(run.stderr, run.stderr.contains('s3cret-token'))
        assertTrue(run.stderr, run.stderr.contains('https://***@pypi.example.com/'))
    }

    @Test
    void a_failed_install_is_not_cached() {
        Map failed = withFakePython([SHIPMARK_PIP_SPEC: 'shipmark', FAKE_PIP_FAIL: '1'])
        assertNotEquals(0, failed.status)
        assertEquals('', failed.stdout)
        Map retried = withFakePython([SHIPMARK_PIP_SPEC: 'shipmark'])
        assertEquals(retried.stderr, 0, retried.status)
        assertEquals(2, venvsCreated())
    }

    @Test
    void it_builds_a_real_virtualenv_from_a_local_wheel() {
        String python = ['bash', '-c', 'command -v python3'].execute().text.trim()
        Assume.assumeTrue('python3 with venv and ensurepip is needed', python && ['bash', '-c', "${python} -c 'import venv, ensurepip'"].execute().waitFor() == 0)
        File wheel = fakeWheel(new File(dir, 'shipmark_fake-0.0.1-py3-none-any.whl'))
        Map run = bootstrap([SHIPMARK_PYTHON: python, SHIPMARK_PIP_SPEC: wheel.path, PIP_NO_INDEX: '1'])
        assertEquals(run.stderr, 0, run.status)
        String helper = run.stdout.trim()
        assertTrue(helper, new File(helper).canExecute())
        Map exec = bootstrap([SHIPMARK_PYTHON: python, SHIPMARK_PIP_SPEC: wheel.path], ['demo', '--json'])
        assertEquals(exec.stderr, 0, exec.status)
        assertEquals('fake shipmark: demo --json\n', exec.stdout)
    }

    /** A minimal wheel whose console script `shipmark` prints its arguments. */
    static File fakeWheel(File file) {
        Map<String, String> files = [
            'shipmark_fake/__init__.py'                      : 'import sys\n\ndef main():\n    print("fake shipmark: " + " ".join(sys.argv[1:]))\n',
            'shipmark_fake-0.0.1.dist-info/METADATA'         : 'Metadata-Version: 2.1\nName: shipmark-fake\nVersion: 0.0.1\n',
            'shipmark_fake-0.0.1.dist-info/WHEEL'            : 'Wheel-Version: 1.0\nGenerator: bootstrap-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n',
            'shipmark_fake-0.0.1.dist-info/entry_points.txt' : '[console_scripts]\nshipmark = shipmark_fake:main\n',
        ]
        String record = files.collect { name, text ->
            byte[] digest = MessageDigest.getInstance('SHA-256').digest(text.getBytes('UTF-8'))
            "${name},sha256=${Base64.urlEncoder.withoutPadding().encodeToString(digest)},${text.getBytes('UTF-8').length}"
        }.join('\n') + '\nshipmark_fake-0.0.1.dist-info/RECORD,,\n'
        files['shipmark_fake-0.0.1.dist-info/RECORD'] = record
        file.withOutputStream { OutputStream os ->
            ZipOutputStream zip = new ZipOutputStream(os)
            files.each { name, text ->
                zip.putNextEntry(new ZipEntry(name))
                zip.write(text.getBytes('UTF-8'))
                zip.closeEntry()
            }
            zip.close()
        }
        return file
    }
}
