#!/usr/bin/env bash
# Installs what the tests need: Debian's docker-registry (2.8), skopeo, groovy 2.4, junit4,
# chromium, openssl (test CAs and certificates) and maven; crane, oras, regctl and the OCI
# distribution-spec conformance suite built with Go; JenkinsPipelineUnit for the Groovy CPS
# suite (Maven Central, into tests/groovy/cps/lib); the Python package with its test extras
# into the virtual environment .venv (SHIPMARK_VENV overrides the place), as the README
# installs it: a stock Debian 12 / Ubuntu 24.04 Python refuses system-wide pip installs
# (PEP 668).
# Safe to rerun: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

CRANE_VERSION=v0.22.1
ORAS_VERSION=v1.3.6
REGCTL_VERSION=v0.11.7
# Keep in step with tests/python/servers.py (CONFORMANCE_VERSION).
CONFORMANCE_MODULE=github.com/opencontainers/distribution-spec/conformance
CONFORMANCE_VERSION=v0.0.0-20260831232431-97274622c111

need_apt=()
command -v docker-registry >/dev/null || need_apt+=(docker-registry)
command -v skopeo >/dev/null || need_apt+=(skopeo)
command -v groovy >/dev/null || need_apt+=(groovy)
[ -f /usr/share/java/junit4.jar ] || need_apt+=(junit4)
command -v chromium >/dev/null || need_apt+=(chromium)
python3 -c 'import ensurepip, venv' 2>/dev/null || need_apt+=(python3-venv)   # Debian splits venv out
command -v openssl >/dev/null || need_apt+=(openssl)
command -v mvn >/dev/null || need_apt+=(maven)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "install-test-deps: missing ${need_apt[*]}; run as root or: sudo apt-get install -y ${need_apt[*]}" >&2
    exit 1
  fi
  echo "install-test-deps: apt-get install ${need_apt[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

# Go from the official tarball lives in /usr/local/go; a non-login shell may not have it on PATH.
command -v go >/dev/null || export PATH="/usr/local/go/bin:$PATH"
command -v go >/dev/null || { echo "install-test-deps: Go is needed for crane, oras and the test registry: install golang-go" >&2; exit 1; }
gobin="$(go env GOPATH)/bin"
export PATH="$gobin:$PATH"
if ! command -v crane >/dev/null; then
  echo "install-test-deps: go install crane@$CRANE_VERSION"
  go install "github.com/google/go-containerregistry/cmd/crane@$CRANE_VERSION"
fi
if ! command -v oras >/dev/null; then
  echo "install-test-deps: go install oras@$ORAS_VERSION"
  go install "oras.land/oras/cmd/oras@$ORAS_VERSION"
fi
if ! command -v regctl >/dev/null; then
  echo "install-test-deps: go install regctl@$REGCTL_VERSION"
  go install "github.com/regclient/regclient/cmd/regctl@$REGCTL_VERSION"
fi

# The OCI distribution-spec conformance suite, which proves the test registries. `go install`
# names the binary after the package (`conformance`), so it is built aside and renamed; the
# module version in the binary tells whether the installed one is the pinned one.
conformance_bin="$gobin/oci-distribution-conformance"
if ! go version -m "$conformance_bin" 2>/dev/null | grep -q "mod[[:space:]]$CONFORMANCE_MODULE[[:space:]]$CONFORMANCE_VERSION\b"; then
  echo "install-test-deps: go install $CONFORMANCE_MODULE@$CONFORMANCE_VERSION"
  build_dir=$(mktemp -d)
  GOBIN="$build_dir" go install "$CONFORMANCE_MODULE@$CONFORMANCE_VERSION"
  mkdir -p "$gobin"
  mv "$build_dir/conformance" "$conformance_bin"
  rmdir "$build_dir"
fi

if ! ls tests/groovy/cps/lib/jenkins-pipeline-unit-*.jar >/dev/null 2>&1; then
  echo "install-test-deps: JenkinsPipelineUnit and groovy-cps into tests/groovy/cps/lib"
  mvn -q -B -f tests/groovy/cps/pom.xml dependency:copy-dependencies
fi

venv="${SHIPMARK_VENV:-.venv}"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -m pip install -q --disable-pip-version-check -e "python[test,lint]"
