#!/usr/bin/env bash
# Runs the Groovy tests of the Jenkins shared library in Groovy 2.4 (Debian `groovy`, the version
# inside Jenkins) with JUnit 4 (Debian `junit4`), in two suites:
#   - the harness suite: src/ and tests/groovy/ compiled with groovyc, steps run in plain Groovy
#     with recorded pipeline steps; its last line is "groovy: N passed, N failed[, N skipped]";
#   - the CPS suite (tests/groovy/cps/Cps*Tests): JenkinsPipelineUnit 1.1 loads the library through
#     @Library and runs steps and examples under groovy-cps, as Jenkins does; it compiles vars/ and
#     src/ itself, so src/ is not on its class path. Its last line is "cps: N passed, N failed".
#     Its jars come from Maven Central into tests/groovy/cps/lib (scripts/install-test-deps.sh).
#
#   tests/groovy/run.sh                      all tests
#   tests/groovy/run.sh PromoteImageStepTests [CpsStepsTests Other#method ...]
#
# Java: Debian's groovy scripts look for /usr/lib/jvm/default-java, which a JDK installed without
# default-jdk lacks, so JAVA_HOME is taken from the `java` on PATH when it is unset or wrong.
# Groovy 2.4 runs on Java 17 as far as these tests go (plain reflection on our own classes,
# JsonSlurper, MarkupBuilder, GroovyShell); no --add-opens flags are needed. Set JAVA_OPTS to add some.
# The end-to-end test is skipped unless SHIPMARK_E2E_REGISTRY=host:port and `shipmark` is on PATH.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"

if [ -z "${JAVA_HOME:-}" ] || [ ! -x "$JAVA_HOME/bin/java" ]; then
    java_bin="$(command -v java || true)"
    if [ -z "$java_bin" ]; then
        echo "tests/groovy/run.sh: no java on PATH; install a JDK (e.g. apt-get install -y openjdk-17-jdk-headless)" >&2
        exit 2
    fi
    JAVA_HOME="$(dirname "$(dirname "$(readlink -f "$java_bin")")")"
    export JAVA_HOME
fi

jar() {
    local found
    for found in "$@"; do
        if [ -f "$found" ]; then
            printf '%s' "$found"
            return 0
        fi
    done
    echo "tests/groovy/run.sh: missing $1; install it with: apt-get install -y groovy junit4" >&2
    exit 2
}
groovy_jar="$(jar /usr/share/java/groovy-all.jar /usr/share/groovy/lib/groovy-all.jar)"
junit_jar="$(jar /usr/share/java/junit4.jar)"
hamcrest_jar="$(jar /usr/share/java/hamcrest-core.jar /usr/share/java/hamcrest.jar)"
classpath="$groovy_jar:$junit_jar:$hamcrest_jar"

build="$(mktemp -d "${TMPDIR:-/tmp}/shipmark-groovy.XXXXXX")"
trap 'rm -rf "$build"' EXIT

mapfile -t sources < <(find "$root/src" "$here" -path "$here/fixtures" -prune -o -path "$here/cps" -prune -o -name '*.groovy' -print | sort)
# shellcheck disable=SC2086
if ! "$JAVA_HOME/bin/java" ${JAVA_OPTS:-} -cp "$classpath" org.codehaus.groovy.tools.FileSystemCompiler \
        -d "$build" -cp "$classpath" "${sources[@]}" >/dev/null; then
    echo "groovy: 0 passed, 1 failed (src/ or tests/groovy/ does not compile; see above)"
    exit 1
fi

if [ "$#" -gt 0 ]; then
    tests=() cps_tests=()
    for name in "$@"; do
        case "$name" in
            Cps*) cps_tests+=("$name") ;;
            *) tests+=("$name") ;;
        esac
    done
else
    mapfile -t tests < <(find "$here" -path "$here/cps" -prune -o -name '*Tests.groovy' -printf '%f\n' | sed 's/\.groovy$//' | sort)
    mapfile -t cps_tests < <(find "$here/cps" -name 'Cps*Tests.groovy' -printf '%f\n' | sed 's/\.groovy$//' | sort)
fi

cd "$root"
status=0
if [ "${#tests[@]}" -gt 0 ]; then
    # shellcheck disable=SC2086
    "$JAVA_HOME/bin/java" ${JAVA_OPTS:-} -Dshipmark.root="$root" -cp "$build:$classpath" TestMain "${tests[@]}" || status=1
fi
[ "${#cps_tests[@]}" -gt 0 ] || exit "$status"

cps_lib="$here/cps/lib"
if ! ls "$cps_lib"/jenkins-pipeline-unit-*.jar >/dev/null 2>&1; then
    echo "tests/groovy/run.sh: no JenkinsPipelineUnit jars in $cps_lib; run scripts/install-test-deps.sh" \
         "(or: mvn -q -f tests/groovy/cps/pom.xml dependency:copy-dependencies)" >&2
    echo "cps: 0 passed, 1 failed (jars missing)"
    exit 1
fi
cps_classpath="$classpath:$(find "$cps_lib" -name '*.jar' | sort | paste -sd: -)"
cps_build="$build/cps"
mkdir -p "$cps_build"
# TestMain and DeclarativeStandIn are shared with the harness suite; src/ stays out (see above).
# shellcheck disable=SC2086
if ! "$JAVA_HOME/bin/java" ${JAVA_OPTS:-} -cp "$cps_classpath" org.codehaus.groovy.tools.FileSystemCompiler \
        -d "$cps_build" -cp "$cps_classpath" "$here"/cps/*.groovy "$here/harness/TestMain.groovy" \
        "$here/harness/DeclarativeStandIn.groovy" >/dev/null; then
    echo "cps: 0 passed, 1 failed (tests/groovy/cps does not compile; see above)"
    exit 1
fi
# JenkinsPipelineUnit prints a line per library load; keep the test output readable.
# shellcheck disable=SC2086
"$JAVA_HOME/bin/java" ${JAVA_OPTS:-} -Dshipmark.root="$root" -Dshipmark.summary=cps -cp "$cps_build:$cps_classpath" \
    TestMain "${cps_tests[@]}" | grep -v '^Loading shared library ' || status=1
exit "$status"
