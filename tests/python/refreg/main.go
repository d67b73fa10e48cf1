// refreg serves go-containerregistry's registry (the code behind `crane registry serve`) with
// the OCI referrers API switched on, wrapped in conform (conform.go) so that it follows the
// distribution spec v1.1 on what shipmark relies on; the distribution-spec conformance suite
// checks it (tests/python/conformance/test_conformance.py).
//
//	refreg -address 127.0.0.1:PORT -disk DIR [-legacy-referrers]
//
// -legacy-referrers keeps the referrers listing but leaves out its two newer parts, as the
// registries shipmark must still support do: ?artifactType= is ignored (no OCI-Filters-Applied;
// filtering is a SHOULD, and go-containerregistry's own registry never had it) and a manifest
// PUT with a subject gets no OCI-Subject header (Harbor before 2.9.0, goharbor/harbor#18865).
package main

import (
	"flag"
	"io"
	"log"
	"net"
	"net/http"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
)

func main() {
	address := flag.String("address", "127.0.0.1:0", "host:port to listen on")
	disk := flag.String("disk", "", "directory for blobs (manifests stay in memory)")
	legacy := flag.Bool("legacy-referrers", false,
		"no artifactType filtering and no OCI-Subject header, as older registries")
	flag.Parse()

	blobs := registry.NewInMemoryBlobHandler()
	if *disk != "" {
		blobs = registry.NewDiskBlobHandler(*disk)
	}
	handler, err := newConform(registry.New(
		registry.WithBlobHandler(blobs),
		registry.WithReferrersSupport(true),
		registry.Logger(log.New(io.Discard, "", 0)),
	), blobs, referrerOptions{filter: !*legacy, subjectHeader: !*legacy})
	if err != nil {
		log.Fatalln(err)
	}
	listener, err := net.Listen("tcp", *address)
	if err != nil {
		log.Fatalln(err)
	}
	log.Printf("serving on %s", listener.Addr())
	server := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: handler}
	log.Fatalln(server.Serve(listener))
}
