#!/usr/bin/env bash
# Builds and pushes the service image, then writes the pushed image, pinned by digest, to image.txt.
# Reads IMAGE_REPO, VERSION, REGISTRY_USER and REGISTRY_PASSWORD from the pipeline, and Jenkins'
# BUILD_NUMBER, GIT_COMMIT and GIT_URL. The tag is shipmark's version scheme (shipmark tag prints
# the same): VERSION-bBUILD.YYYYMMDD.SHORTSHA.
set -euo pipefail
: "${IMAGE_REPO:?}" "${VERSION:?}" "${BUILD_NUMBER:?}" "${GIT_COMMIT:?}"

tag="${VERSION}-b${BUILD_NUMBER}.$(date -u +%Y%m%d).${GIT_COMMIT:0:7}"
registry="${IMAGE_REPO%%/*}"

printf '%s\n' "$REGISTRY_PASSWORD" | docker login --username "$REGISTRY_USER" --password-stdin "$registry"
docker build \
    --label org.opencontainers.image.version="$VERSION" \
    --label org.opencontainers.image.revision="$GIT_COMMIT" \
    --label org.opencontainers.image.source="${GIT_URL:-}" \
    --label org.opencontainers.image.created="$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
    --tag "$IMAGE_REPO:$tag" .
docker push "$IMAGE_REPO:$tag"
docker inspect --format '{{index .RepoDigests 0}}' "$IMAGE_REPO:$tag" > image.txt
