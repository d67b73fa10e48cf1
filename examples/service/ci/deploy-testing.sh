#!/usr/bin/env bash
# Rolls IMAGE (repo@sha256:...) out to the test environment. Replace with your own deployment.
set -euo pipefail
: "${IMAGE:?}"
IMAGE="$IMAGE" docker compose -f deploy/testing-compose.yml up -d --wait
