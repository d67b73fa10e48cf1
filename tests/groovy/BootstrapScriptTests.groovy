import org.junit.After
import org.junit.Assume
import org.junit.Before
import org.junit.Test

import java.nio.file.Files
import java.security.MessageDigest
import java.util.concurrent.TimeUnit
import java.util.zip.ZipEntry
import java.util.zip.ZipOutputStream

import static org.junit.Assert.assertEquals
import static org.junit.Assert.assertFalse
import static org.junit.Assert.assertNotEquals
import static org.junit.Assert.assertTrue

/**
 * resources/dev/shipmark/run-shipmark.sh run in bash: shipmark on PATH when it reports the
 * library's version, else a virtualenv cached per interpreter, version and source. Most tests use
 * a stand-in python (fixtures/fake-python) that logs what it is asked; the tests named "real" make
 * virtualenvs with the real python3 and pip, offline: from local wheels
 * or the stand-in library tree in fixtures/fake-library, whose build backend needs no index.
 */
class BootstrapScriptTests {

    static final File SCRIPT = new File(PipelineHarness.ROOT, 'resources/dev/shipmark/run-shipmark.sh')
    static final File FAKE_HELPER_DIR = new File(PipelineHarness.ROOT, 'tests/groovy/fixtures/fake-helper')
    static final File FAKE_PYTHON = new File(PipelineHarness.ROOT, 'tests/groovy/fixtures/fake-python/python')
    static final File FAKE_LIBRARY = new File(PipelineHarness.ROOT, 'tests/groovy/fixtures/fake-library')
    /** A PATH without any shipmark on it. */
    static final String BARE_PATH = '/usr/bin:/bin'
    static final String PIN = 'shipmark==0.1.0'

    File dir
    File pythonLog
    File venvs

    @Before
    void setUp() {
        Assume.assumeFalse('a shipmark in /usr/bin or /bin would shadow the virtualenv path', new File('/usr/bin/shipmark').exists() || new File('/bin/shipmark').exists())
        dir = File.createTempDir('bootstrap-', '')
        pythonLog = new File(dir, 'python.log')
        venvs = new File(dir, 'venvs')
    }

    @After
    void tearDown() {
        dir?.deleteDir()
    }

    ProcessBuilder process(Map<String, String> env, List<String> args = [], File script = SCRIPT) {
        Map<String, String> all = [PATH: BARE_PATH, HOME: dir.path, SHIPMARK_LIBRARY_VERSION: '0.1.0', FAKE_SHIPMARK_VERSION: '0.1.0',
                                   SHIPMARK_VENV_ROOT: venvs.path, FAKE_PYTHON_LOG: pythonLog.path,
                                   PIP_CONFIG_FILE: '/dev/null', PIP_NO_INDEX: '1'] + env
        ProcessBuilder builder = new ProcessBuilder(['bash', script.path] + args).directory(dir)
        builder.environment().clear()
        builder.environment().putAll(all.findAll { k, v -> v != null })
        return builder
    }

    static Map finish(Process process) {
        process.outputStream.close()
        StringBuilder out = new StringBuilder()
        StringBuilder err = new StringBuilder()
        process.waitForProcessOutput(out, err)
        return [status: process.exitValue(), stdout: out.toString(), stderr: err.toString()]
    }

    Map bootstrap(Map<String, String> env, List<String> args = [], File script = SCRIPT) {
        return finish(process(env, args, script).start())
    }

    Map withFakePython(Map<String, String> env = [:], List<String> args = []) {
        return bootstrap([SHIPMARK_PYTHON: FAKE_PYTHON.path] + env, args)
    }

    List<String> pythonCalls() {
        return pythonLog.exists() ? pythonLog.readLines() : []
    }

    int venvsCreated() {
        return pythonCalls().count { it.contains(' -m venv ') }
    }

    /** What is in the virtualenv root besides lock files: virtualenvs (symlinks) and the directories they point at. */
    List<String> venvRootEntries() {
        return (venvs.list() ?: [] as String[]).findAll { !it.endsWith('.lock') }.sort()
    }

    static String output(String... command) {
        return command.toList().execute().text
    }

    /** The real python3 (through any pyenv shim), which must have venv and ensurepip; else the test is skipped. */
    static String realPython() {
        String found = ['bash', '-c', 'python3 -c "import os, sys, venv, ensurepip; print(os.path.realpath(sys.executable))"'].execute().text.trim()
        Assume.assumeTrue('python3 with venv and ensurepip is needed', found as boolean)
        return found
    }

    @Test
    void it_starts_strict_and_never_traces() {
        List<String> lines = SCRIPT.readLines()
        assertTrue(lines.contains('set -euo pipefail'))
        assertFalse(SCRIPT.text.contains('set -x'))
        assertFalse((SCRIPT.text =~ /set -[a-z]*x/).find())
    }

    @Test
    void the_library_version_is_the_version_of_its_python_package() {
        String version = new File(PipelineHarness.ROOT, 'resources/dev/shipmark/VERSION').text.trim()
        String pyproject = new File(PipelineHarness.ROOT, 'python/pyproject.toml').text
        String init = new File(PipelineHarness.ROOT, 'python/shipmark/__init__.py').text
        assertEquals(version, (pyproject =~ /(?m)^version = "([^"]+)"/)[0][1])
        assertEquals(version, (init =~ /(?m)^__version__ = "([^"]+)"/)[0][1])
    }

    @Test
    void it_prints_the_shipmark_on_path_that_reports_the_library_version() {
        Map run = bootstrap([PATH: "${FAKE_HELPER_DIR.path}:${BARE_PATH}".toString()])
        assertEquals(run.stderr, 0, run.status)
        assertEquals(new File(FAKE_HELPER_DIR, 'shipmark').path + '\n', run.stdout)
        assertEquals('', run.stderr)
        assertEquals(0, venvsCreated())
    }

    @Test
    void shipmark_names_the_helper_found_before_and_one_that_is_gone_is_said() {
        File helper = new File(FAKE_HELPER_DIR, 'shipmark')
        Map run = bootstrap([SHIPMARK: helper.path])
        assertEquals(run.stderr, helper.path + '\n', run.stdout)
        Map gone = withFakePython([SHIPMARK: '/gone/shipmark'])
        assertEquals(gone.stderr, 0, gone.status)
        assertTrue(gone.stderr, gone.stderr.startsWith('run-shipmark: not using SHIPMARK=/gone/shipmark: no executable there on this agent\n'))
        assertTrue(gone.stdout, gone.stdout.startsWith(new File(venvs, '0.1.0-').path))
    }

    @Test
    void a_shipmark_on_path_of_another_version_is_passed_over_for_the_virtualenv() {
        Map run = withFakePython([PATH: "${FAKE_HELPER_DIR.path}:${BARE_PATH}".toString(), FAKE_SHIPMARK_VERSION: '0.0.9'])
        assertEquals(run.stderr, 0, run.status)
        assertTrue(run.stdout, run.stdout.startsWith(new File(venvs, '0.1.0-').path))
        assertTrue(run.stderr, run.stderr.contains("run-shipmark: not using ${FAKE_HELPER_DIR.path}/shipmark: it reports 'shipmark 0.0.9', this library needs shipmark 0.1.0"))
        assertEquals(1, venvsCreated())
    }

    @Test
    void with_arguments_it_runs_shipmark_with_them() {
        Map run = bootstrap([PATH: "${FAKE_HELPER_DIR.path}:${System.getenv('PATH')}".toString()], ['status', '--json'])
        assertEquals(run.stderr, 0, run.status)
        assertTrue(run.stdout, run.stdout.contains('"command": "status"'))
    }

    @Test
    void it_needs_the_library_version_even_for_a_shipmark_on_path() {
        File copy = new File(dir, 'run-shipmark.sh')
        copy.text = SCRIPT.text
        Map run = bootstrap([SHIPMARK_LIBRARY_VERSION: null, PATH: "${FAKE_HELPER_DIR.path}:${BARE_PATH}".toString()], [], copy)
        assertEquals(2, run.status)
        assertEquals('run-shipmark: SHIPMARK_LIBRARY_VERSION is not set (the steps set it from resources/dev/shipmark/VERSION)\n', run.stderr)
        assertEquals('', run.stdout)
        Map hostile = bootstrap([SHIPMARK_LIBRARY_VERSION: '0.1.0/../../x', SHIPMARK_PYTHON: FAKE_PYTHON.path])
        assertEquals(2, hostile.status)
        assertTrue(hostile.stderr, hostile.stderr.contains('SHIPMARK_LIBRARY_VERSION is not a version'))
        assertEquals(0, venvsCreated())
    }

    @Test
    void run_from_a_checkout_it_reads_the_version_beside_it() {
        String version = new File(SCRIPT.parentFile, 'VERSION').text.trim()
        Map run = bootstrap([SHIPMARK_LIBRARY_VERSION: null, FAKE_SHIPMARK_VERSION: version, PATH: "${FAKE_HELPER_DIR.path}:${BARE_PATH}".toString()])
        assertEquals(run.stderr, 0, run.status)
        assertEquals(new File(FAKE_HELPER_DIR, 'shipmark').path, run.stdout.trim())
    }

    @Test
    void without_shipmark_or_python_it_says_what_to_install_in_one_line() {
        Map run = bootstrap([SHIPMARK_PYTHON: '/nonexistent/python3'])
        assertEquals(127, run.status)
        assertEquals('run-shipmark: no shipmark 0.1.0 on PATH and no /nonexistent/python3 to make a virtualenv with: ' +
            'install shipmark 0.1.0 on this agent, or Python 3.9+ with venv, or set SHIPMARK_PYTHON\n', run.stderr)
        assertEquals('', run.stdout)
    }

    @Test
    void a_python_older_than_3_9_is_refused_in_one_line() {
        Map run = withFakePython([FAKE_PYTHON_MINOR: '3.8'])
        assertEquals(127, run.status)
        assertEquals("run-shipmark: ${FAKE_PYTHON.path} is Python 3.8; shipmark needs 3.9+: set SHIPMARK_PYTHON to a newer python\n".toString(), run.stderr)
        assertEquals(0, venvsCreated())
    }

    @Test
    void from_the_index_it_asks_pip_for_exactly_the_library_version() {
        Map run = withFakePython()
        assertEquals(run.stderr, 0, run.status)
        List<String> pips = pythonCalls().findAll { it.contains(' -m pip ') }
        assertEquals(1, pips.size())
        assertTrue(pips[0], pips[0].endsWith(" -m pip install --disable-pip-version-check --no-input --quiet ${PIN}".toString()))
        assertEquals(['installed-from: index', 'args: hello'], output(run.stdout.trim(), 'hello').readLines())
    }

    @Test
    void it_pins_the_library_version_together_with_a_pip_spec() {
        Map run = withFakePython([SHIPMARK_PIP_SPEC: '/wheels/shipmark-0.1.0-py3-none-any.whl'])
        assertEquals(run.stderr, 0, run.status)
        String pip = pythonCalls().find { it.contains(' -m pip ') }
        assertTrue(pip, pip.endsWith(" --quiet /wheels/shipmark-0.1.0-py3-none-any.whl ${PIN}".toString()))
    }

    @Test
    void an_installed_shipmark_of_another_version_is_refused_and_not_cached() {
        Map run = withFakePython([FAKE_PIP_INSTALLS_VERSION: '0.2.0'])
        assertEquals(1, run.status)
        assertEquals('', run.stdout)
        assertTrue(run.stderr, run.stderr.contains("reports 'shipmark 0.2.0', not shipmark 0.1.0"))
        assertEquals([], venvRootEntries())
    }

    @Test
    void it_creates_a_virtualenv_once_and_reuses_it() {
        Map first = withFakePython([SHIPMARK_PIP_SPEC: '/wheels/shipmark-0.1.0-py3-none-any.whl'])
        assertEquals(first.stderr, 0, first.status)
        String helper = first.stdout.trim()
        assertTrue(helper, helper.startsWith(new File(venvs, '0.1.0-').path) && helper.endsWith('/bin/shipmark'))
        assertEquals('installed-from: /wheels/shipmark-0.1.0-py3-none-any.whl\nargs: \n', output(helper))
        assertTrue(first.stderr, first.stderr.startsWith('run-shipmark: installing shipmark 0.1.0 into '))
        Map second = withFakePython([SHIPMARK_PIP_SPEC: '/wheels/shipmark-0.1.0-py3-none-any.whl'])
        assertEquals(helper + '\n', second.stdout)
        assertEquals('', second.stderr)
        assertEquals(1, venvsCreated())
    }

    @Test
    void the_cache_is_keyed_by_library_version_interpreter_and_source() {
        String a = withFakePython([SHIPMARK_PIP_SPEC: '/wheels/a.whl']).stdout.trim()
        String b = withFakePython([SHIPMARK_PIP_SPEC: '/wheels/b.whl']).stdout.trim()
        String c = withFakePython([SHIPMARK_PIP_SPEC: '/wheels/a.whl', SHIPMARK_LIBRARY_VERSION: '0.2.0']).stdout.trim()
        String d = withFakePython([SHIPMARK_PIP_SPEC: '/wheels/a.whl', FAKE_PYTHON_VERSION: '3.11.9']).stdout.trim()
        File otherPython = new File(dir, 'other/python3')
        otherPython.parentFile.mkdirs()
        Files.copy(FAKE_PYTHON.toPath(), otherPython.toPath())
        otherPython.setExecutable(true)
        String e = bootstrap([SHIPMARK_PYTHON: otherPython.path, SHIPMARK_PIP_SPEC: '/wheels/a.whl']).stdout.trim()
        assertEquals(5, [a, b, c, d, e].unique().size())
        assertTrue(c, c.contains('/venvs/0.2.0-'))
        assertEquals(5, venvsCreated())
    }

    @Test
    void it_installs_a_copy_of_the_librarys_python_directory_keyed_on_its_sources() {
        File library = new File(dir, 'library')
        new File(library, 'python/shipmark').mkdirs()
        new File(library, 'python/pyproject.toml').text = '[project]\nname = "shipmark"\n'
        new File(library, 'python/shipmark/__init__.py').text = '__version__ = "0.1.0"\n'
        String helper = withFakePython([SHIPMARK_LIBRARY_DIR: library.path]).stdout.trim()
        assertTrue(pythonCalls().contains('pip source files: ./pyproject.toml ./shipmark/__init__.py '))
        // What pip's in-tree build, setuptools and Python write into the tree does not make a new virtualenv.
        ['build/lib/shipmark/__init__.py', 'shipmark.egg-info/PKG-INFO', 'shipmark/__pycache__/__init__.cpython-311.pyc', 'dist/shipmark-0.1.0.whl', '.coverage'].each {
            File made = new File(library, "python/${it}")
            made.parentFile.mkdirs()
            made.text = 'built'
        }
        assertEquals(helper, withFakePython([SHIPMARK_LIBRARY_DIR: library.path]).stdout.trim())
        assertEquals(1, venvsCreated())
        new File(library, 'python/shipmark/__init__.py').text = '__version__ = "0.1.0"\nCHANGED = 1\n'
        String changed = withFakePython([SHIPMARK_LIBRARY_DIR: library.path]).stdout.trim()
        assertNotEquals('a changed python/ directory must not reuse the old virtualenv', helper, changed)
        assertTrue(pythonCalls().last(), pythonCalls().last().startsWith('pip source files: ./pyproject.toml ./shipmark/__init__.py '))
    }

    @Test
    void a_library_dir_without_python_is_an_error_not_a_silent_switch_to_the_index() {
        Map run = withFakePython([SHIPMARK_LIBRARY_DIR: new File(dir, 'no-such-library').path])
        assertEquals(2, run.status)
        assertEquals("run-shipmark: SHIPMARK_LIBRARY_DIR=${dir.path}/no-such-library has no python/pyproject.toml: ".toString() +
            'point it at a checkout of this library, or unset it to install from the package index\n', run.stderr)
        assertEquals(0, venvsCreated())
    }

    @Test
    void it_never_shows_a_password_from_the_pip_spec_or_the_index_url() {
        Map spec = withFakePython([SHIPMARK_PIP_SPEC: 'https://builder:s3cret-token@pypi.example.com/simple/shipmark.whl'])
        assertEquals(0, spec.status)
        assertFalse(spec.stderr, spec.stderr.contains('s3cret-token'))
        assertTrue(spec.stderr, spec.stderr.contains('https://***@pypi.example.com/'))
        Map index = withFakePython([PIP_INDEX_URL: 'https://builder:p@ss:w0rd@pypi.example.com/simple', FAKE_PIP_FAIL: '1'])
        assertEquals(1, index.status)
        assertFalse(index.stderr, index.stderr.contains('w0rd'))
        assertTrue(index.stderr, index.stderr.contains('(https://***@pypi.example.com/simple)'))
    }

    @Test
    void a_failed_install_leaves_nothing_and_is_tried_again() {
        Map failed = withFakePython([FAKE_PIP_FAIL: '1'])
        assertEquals(1, failed.status)
        assertEquals('', failed.stdout)
        assertTrue(failed.stderr, failed.stderr.contains('run-shipmark: pip could not install shipmark==0.1.0 from the package index pip is configured for (see above)'))
        assertEquals([], venvRootEntries())
        Map retried = withFakePython()
        assertEquals(retried.stderr, 0, retried.status)
        assertEquals(2, venvsCreated())
    }

    @Test
    void an_aborted_install_leaves_nothing() {
        Process running = process([SHIPMARK_PYTHON: FAKE_PYTHON.path, FAKE_PIP_SECONDS: '2']).start()
        long deadline = System.currentTimeMillis() + 10000
        while (!pythonCalls().any { it.contains(' -m pip ') } && System.currentTimeMillis() < deadline) {
            sleep(50)
        }
        running.destroy()   // SIGTERM, as Jenkins sends when a build is aborted
        assertTrue(running.waitFor(10, TimeUnit.SECONDS))
        assertEquals(143, running.exitValue())
        assertEquals([], venvRootEntries())
    }

    @Test
    void concurrent_calls_build_one_virtualenv_and_all_get_it() {
        List<Process> calls = (1..3).collect { process([SHIPMARK_PYTHON: FAKE_PYTHON.path, FAKE_PIP_SECONDS: '1']).start() }
        List<Map> runs = calls.collect { finish(it) }
        assertEquals(runs*.stderr.join('\n'), [0, 0, 0], runs*.status)
        assertEquals(1, runs*.stdout.unique().size())
        assertEquals('shipmark 0.1.0\n', output(runs[0].stdout.trim(), '--version'))
        assertEquals(1, venvsCreated())
    }

    @Test
    void real_it_installs_exactly_the_library_version_from_the_index() {
        String python = realPython()
        File index = new File(dir, 'index')
        index.mkdirs()
        fakeWheel(index, '0.1.0')
        fakeWheel(index, '0.2.0')
        Map run = bootstrap([SHIPMARK_PYTHON: python, PIP_FIND_LINKS: index.path], ['--version'])
        assertEquals(run.stderr, 0, run.status)
        assertEquals('shipmark 0.1.0\n', run.stdout)
    }

    @Test
    void real_a_virtualenv_whose_base_python_is_gone_is_built_again() {
        String python = realPython()
        File index = new File(dir, 'index')
        index.mkdirs()
        fakeWheel(index, '0.1.0')
        // python3 as an agent finds it on PATH; then that path goes (an upgrade, a removed pyenv version).
        File before = new File(dir, 'before/python3')
        File after = new File(dir, 'after/python3')
        [before, after].each {
            it.parentFile.mkdirs()
            Files.createSymbolicLink(it.toPath(), new File(python).toPath())
        }
        Map first = bootstrap([PATH: "${before.parent}:${BARE_PATH}".toString(), PIP_FIND_LINKS: index.path], ['--version'])
        assertEquals(first.stderr, 0, first.status)
        List<String> firstEntries = venvRootEntries()
        before.delete()
        Map second = bootstrap([PATH: "${after.parent}:${BARE_PATH}".toString(), PIP_FIND_LINKS: index.path], ['--version'])
        assertEquals(second.stderr, 0, second.status)
        assertEquals('shipmark 0.1.0\n', second.stdout)
        assertTrue(second.stderr, second.stderr.contains('run-shipmark: installing shipmark 0.1.0 into '))
        List<String> secondEntries = venvRootEntries()
        assertEquals('the same key: a symlink and the directory it points at', 2, secondEntries.size())
        assertEquals(firstEntries[0], secondEntries[0])
        assertNotEquals('a new directory, the broken one removed', firstEntries[1], secondEntries[1])
    }

    @Test
    void real_the_librarys_tree_is_installed_once_from_a_copy_that_its_build_may_write_into() {
        String python = realPython()
        File library = new File(dir, 'library')
        library.mkdirs()
        output('cp', '-R', new File(FAKE_LIBRARY, 'python').path, library.path)
        Map first = bootstrap([SHIPMARK_PYTHON: python, SHIPMARK_LIBRARY_DIR: library.path], ['hello'])
        assertEquals(first.stderr, 0, first.status)
        assertEquals('library shipmark: hello\n', first.stdout)
        Map second = bootstrap([SHIPMARK_PYTHON: python, SHIPMARK_LIBRARY_DIR: library.path], ['hello'])
        assertEquals(second.stderr, 0, second.status)
        assertEquals('', second.stderr)
        assertEquals(2, venvRootEntries().size())
        assertEquals(['backend.py', 'pyproject.toml', 'shipmark'], new File(library, 'python').list().sort().toList())
    }

    /** A wheel of a package `shipmark` whose console script answers --version with VERSION. */
    static File fakeWheel(File directory, String version) {
        String info = "shipmark-${version}.dist-info"
        Map<String, String> files = [
            'shipmark/__init__.py'         : "__version__ = \"${version}\"\n".toString(),
            'shipmark/__main__.py'         : 'import sys\nfrom . import __version__\n\ndef main():\n' +
                                             '    print("shipmark " + __version__ if sys.argv[1:] == ["--version"] else "wheel shipmark: " + " ".join(sys.argv[1:]))\n',
            ("${info}/METADATA".toString()): "Metadata-Version: 2.1\nName: shipmark\nVersion: ${version}\n".toString(),
            ("${info}/WHEEL".toString())   : 'Wheel-Version: 1.0\nGenerator: bootstrap-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n',
            ("${info}/entry_points.txt".toString()): '[console_scripts]\nshipmark = shipmark.__main__:main\n',
        ]
        String record = files.collect { name, text ->
            byte[] digest = MessageDigest.getInstance('SHA-256').digest(text.getBytes('UTF-8'))
            "${name},sha256=${Base64.urlEncoder.withoutPadding().encodeToString(digest)},${text.getBytes('UTF-8').length}"
        }.join('\n') + "\n${info}/RECORD,,\n"
        files["${info}/RECORD".toString()] = record
        File file = new File(directory, "shipmark-${version}-py3-none-any.whl")
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
