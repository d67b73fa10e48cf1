#!/usr/bin/env bash
# Applies the rendered files on the stable server. $1 is the rendered directory (SHIPMARK_RENDER_DIR).
set -euo pipefail
dir="${1:?rendered directory}"
docker --context stable-server compose -f "$dir/docker-compose.yml" up -d --remove-orphans --wait
