// refreg serves go-containerregistry's registry (the code behind `crane registry serve`)
// with the OCI referrers API switched on. `crane registry serve` v0.22.1 leaves it off,
// so shipmark's tests use this as "a registry that has the referrers API".
//
//	refreg -address 127.0.0.1:PORT -disk DIR
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
	flag.Parse()

	blobs := registry.NewInMemoryBlobHandler()
	if *disk != "" {
		blobs = registry.NewDiskBlobHandler(*disk)
	}
	listener, err := net.Listen("tcp", *address)
	if err != nil {
		log.Fatalln(err)
	}
	log.Printf("serving on %s", listener.Addr())
	server := &http.Server{
		ReadHeaderTimeout: 5 * time.Second,
		Handler: registry.New(
			registry.WithBlobHandler(blobs),
			registry.WithReferrersSupport(true),
			registry.Logger(log.New(io.Discard, "", 0)),
		),
	}
	log.Fatalln(server.Serve(listener))
}
