module shipmark.dev/tests/intoto

go 1.23

require (
	github.com/in-toto/attestation v1.2.0
	google.golang.org/protobuf v1.36.11
)
