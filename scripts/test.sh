#!/usr/bin/env bash
# The whole test suite: installs what is missing, then runs the Python tests (unit, CLI, the
# three stores on real registries, Jenkins double, deploy/board) and the Groovy tests in
# Jenkins' Groovy 2.4, whose end-to-end test gets a Docker Registry 2.8 of its own on
# loopback, serving HTTPS. Before the tests, ruff and mypy check python/shipmark (settings in
# python/pyproject.toml). Extra arguments go to pytest. Everything runs with the virtual
# environment that install-test-deps.sh fills (.venv, or SHIPMARK_VENV): its python runs pytest,
# and its bin/ comes first on PATH, so `shipmark` (the Groovy end-to-end test) and `python3` are
# the venv's too.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-test-deps.sh || exit 1
venv="$(cd "${SHIPMARK_VENV:-.venv}" && pwd)"
export PATH="$venv/bin:$PATH" VIRTUAL_ENV="$venv"
command -v go >/dev/null || export PATH="/usr/local/go/bin:$PATH"
export PATH="$(go env GOPATH)/bin:$PATH"

# Lint and types first (quick); their verdict counts, but the tests run either way.
(cd python && "$venv/bin/ruff" check shipmark && "$venv/bin/mypy" --config-file pyproject.toml shipmark)
lint_status=$?

"$venv/bin/python" -m pytest "$@"
py_status=$?

# A registry for the Groovy end-to-end test: the example pipelines call the real helper. It
# serves HTTPS with a CA made here, as most company registries do; the Python tests cover
# plain HTTP on loopback.
work=$(mktemp -d -p /dev/shm 2>/dev/null || mktemp -d)   # RAM: the disk here is slow under load
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
newkey=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
openssl req -x509 "${newkey[@]}" -keyout "$work/ca.key" -out "$work/ca.crt" -days 2 \
  -subj "/CN=shipmark e2e CA" 2>/dev/null
openssl req -new "${newkey[@]}" -keyout "$work/server.key" -out "$work/server.csr" \
  -subj /CN=localhost 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\nbasicConstraints=critical,CA:FALSE\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n' >"$work/server.ext"
openssl x509 -req -in "$work/server.csr" -CA "$work/ca.crt" -CAkey "$work/ca.key" -CAcreateserial \
  -out "$work/server.crt" -days 2 -extfile "$work/server.ext" 2>/dev/null
cat > "$work/config.yml" <<YAML
version: 0.1
log: {level: error, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $work/data}, delete: {enabled: true}}
http: {addr: 127.0.0.1:$port, tls: {certificate: $work/server.crt, key: $work/server.key}}
YAML
docker-registry serve "$work/config.yml" >"$work/registry.log" 2>&1 &
registry_pid=$!
trap 'kill $registry_pid 2>/dev/null; wait $registry_pid 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 50); do
  python3 -c "import ssl, urllib.request; urllib.request.urlopen('https://127.0.0.1:$port/v2/', context=ssl.create_default_context(cafile='$work/ca.crt'))" 2>/dev/null && break
  sleep 0.2
done

SHIPMARK_E2E_REGISTRY="127.0.0.1:$port" SHIPMARK_E2E_CA_FILE="$work/ca.crt" bash tests/groovy/run.sh
groovy_status=$?

[ $lint_status -eq 0 ] && [ $py_status -eq 0 ] && [ $groovy_status -eq 0 ]
