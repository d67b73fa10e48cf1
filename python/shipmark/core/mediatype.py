"""Media types and annotation keys: defined here and nowhere else."""

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"

MANIFEST_TYPES = (OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_MANIFEST_LIST)
INDEX_TYPES = (OCI_INDEX, DOCKER_MANIFEST_LIST)
# Registry 2.x rewrites Docker v2 manifests to schema1 unless the client accepts them all.
MANIFEST_ACCEPT = ", ".join(MANIFEST_TYPES)

RECORD_ARTIFACT = "application/vnd.shipmark.record.v1+json"
IN_TOTO = "application/vnd.in-toto+json"
DSSE_ENVELOPE = "application/vnd.dsse.envelope.v1+json"

EMPTY_JSON = b"{}"
EMPTY_DIGEST = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"

# Summary annotations on record manifests.
A_CREATED = "org.opencontainers.image.created"
A_KIND = "dev.shipmark.kind"
A_SUITE = "dev.shipmark.suite"
A_RESULT = "dev.shipmark.result"
A_CHANNEL = "dev.shipmark.channel"
A_BY = "dev.shipmark.by"
A_TARGET = "dev.shipmark.target"
A_PREVIOUS = "dev.shipmark.previous"   # on promotions: where the channel tag pointed before
A_POLICY = "dev.shipmark.policy"       # on promotions: digest of the policy it was decided under

# Standard OCI labels set at build time.
L_VERSION = "org.opencontainers.image.version"
L_CREATED = "org.opencontainers.image.created"
L_REVISION = "org.opencontainers.image.revision"
L_SOURCE = "org.opencontainers.image.source"
A_REF_NAME = "org.opencontainers.image.ref.name"
A_TITLE = "org.opencontainers.image.title"   # on a record's layer: the file name `oras pull` writes

# in-toto statement and predicate types.
STATEMENT_V1 = "https://in-toto.io/Statement/v1"
PRED_TEST_RESULT = "https://in-toto.io/attestation/test-result/v0.1"
PRED_SLSA_PROVENANCE = "https://slsa.dev/provenance/v1"
PRED_PROMOTION = "https://shipmark.dev/promotion/v1"
PRED_REJECTION = "https://shipmark.dev/rejection/v1"
PRED_RESTORATION = "https://shipmark.dev/restoration/v1"
PRED_DEPLOYMENT = "https://shipmark.dev/deployment/v1"
POLICY_ARTIFACT = "application/vnd.shipmark.policy.v1+yaml"
POLICY_TAG = "shipmark-policy"
A_BRANCH = "dev.shipmark.branch"   # on provenance records, so policy `branches` needs no payload
