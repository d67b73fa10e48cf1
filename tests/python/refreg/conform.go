package main

// conform wraps go-containerregistry's registry handler (v0.22.1) where it departs from the
// OCI distribution spec v1.1, as measured by the distribution-spec conformance suite:
// no Location on a 201, manifests stored under a digest that is not theirs, a referrers API
// that answers 404 for a new repository, reports config.mediaType as every artifactType and
// ignores ?artifactType=, no OCI-Subject header, DELETE of an unknown blob answering 500, no
// upload-status GET, Range requests outside "bytes=N-M", mount requests ignored, tag list
// pages without the Link header that says another page follows, and tags that still serve a
// manifest deleted by digest.
// Everything else (storage, tags, catalog, chunk bookkeeping) stays with the wrapped handler.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// referrerOptions are the parts of the referrers API that older registries lack.
type referrerOptions struct {
	filter        bool // apply ?artifactType= and say so in OCI-Filters-Applied
	subjectHeader bool // answer a manifest PUT that has a subject with OCI-Subject
}

// blobStore is what the wrapper needs of the wrapped handler's blob store (the in-memory and
// disk ones both have it).
type blobStore interface {
	registry.BlobHandler
	registry.BlobStatHandler
	registry.BlobDeleteHandler
}

type conform struct {
	next  http.Handler
	blobs blobStore
	opts  referrerOptions

	mu        sync.Mutex
	uploads   map[string]int64                               // upload id -> bytes received so far
	referrers map[string]map[string]map[string]v1.Descriptor // repo -> subject -> referrer digest -> descriptor
	tags      map[string]map[string]string                   // repo -> tag -> manifest digest
}

func newConform(next http.Handler, blobs registry.BlobHandler, opts referrerOptions) (*conform, error) {
	full, ok := blobs.(blobStore)
	if !ok {
		return nil, errors.New("the blob handler cannot stat or delete blobs")
	}
	return &conform{
		next:      next,
		blobs:     full,
		opts:      opts,
		uploads:   map[string]int64{},
		referrers: map[string]map[string]map[string]v1.Descriptor{},
		tags:      map[string]map[string]string{},
	}, nil
}

// route is one distribution API path: /v2/<repo>/<kind>/<ref>, where kind is "blobs",
// "uploads" (/blobs/uploads/<id>, id empty on POST), "manifests", "referrers" or "tags".
type route struct {
	repo, kind, ref string
}

func parseRoute(urlPath string) (route, bool) {
	rest, ok := strings.CutPrefix(urlPath, "/v2/")
	if !ok {
		return route{}, false
	}
	parts := strings.Split(rest, "/")
	n := len(parts)
	if n >= 4 && parts[n-3] == "blobs" && parts[n-2] == "uploads" {
		return route{strings.Join(parts[:n-3], "/"), "uploads", parts[n-1]}, true
	}
	if n >= 3 {
		switch parts[n-2] {
		case "blobs", "manifests", "referrers", "tags":
			return route{strings.Join(parts[:n-2], "/"), parts[n-2], parts[n-1]}, true
		}
	}
	return route{}, false
}

func (c *conform) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	rt, ok := parseRoute(req.URL.Path)
	if !ok || rt.repo == "" {
		c.next.ServeHTTP(w, req)
		return
	}
	switch {
	case rt.kind == "blobs" && req.Method == http.MethodGet:
		c.getBlob(w, req, rt)
	case rt.kind == "blobs" && req.Method == http.MethodDelete:
		c.deleteBlob(w, req, rt)
	case rt.kind == "uploads":
		c.upload(w, req, rt)
	case rt.kind == "manifests":
		c.manifest(w, req, rt)
	case rt.kind == "referrers" && req.Method == http.MethodGet:
		c.listReferrers(w, req, rt)
	case rt.kind == "tags" && rt.ref == "list" && req.Method == http.MethodGet:
		c.listTags(w, req, rt)
	default:
		c.next.ServeHTTP(w, req)
	}
}

// -- blobs ----------------------------------------------------------------------------------

// getBlob serves a blob with net/http's RFC 9110 Range handling (suffix, open-ended and
// clamped ranges, 416 for unsatisfiable ones), which the wrapped handler lacks.
func (c *conform) getBlob(w http.ResponseWriter, req *http.Request, rt route) {
	h, err := v1.NewHash(rt.ref)
	if err != nil {
		writeError(w, http.StatusBadRequest, "DIGEST_INVALID", "invalid digest")
		return
	}
	if _, err := c.blobs.Stat(req.Context(), rt.repo, h); err != nil {
		c.blobError(w, err)
		return
	}
	rc, err := c.blobs.Get(req.Context(), rt.repo, h)
	if err != nil {
		c.blobError(w, err)
		return
	}
	defer rc.Close()
	content, ok := rc.(io.ReadSeeker)
	if !ok {
		data, err := io.ReadAll(rc)
		if err != nil {
			writeError(w, http.StatusInternalServerError, "UNKNOWN", err.Error())
			return
		}
		content = bytes.NewReader(data)
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Docker-Content-Digest", h.String())
	http.ServeContent(w, req, "", time.Time{}, content)
}

func (c *conform) deleteBlob(w http.ResponseWriter, req *http.Request, rt route) {
	h, err := v1.NewHash(rt.ref)
	if err != nil {
		writeError(w, http.StatusBadRequest, "DIGEST_INVALID", "invalid digest")
		return
	}
	if _, err := c.blobs.Stat(req.Context(), rt.repo, h); err != nil {
		c.blobError(w, err)
		return
	}
	c.next.ServeHTTP(w, req)
}

func (c *conform) blobError(w http.ResponseWriter, err error) {
	if errors.Is(err, registry.ErrNotFound) {
		writeError(w, http.StatusNotFound, "BLOB_UNKNOWN", "blob unknown to registry")
		return
	}
	writeError(w, http.StatusInternalServerError, "UNKNOWN", err.Error())
}

// upload keeps track of each upload session's size, which the wrapped handler keeps to
// itself: for the status GET, for refusing unknown sessions and out-of-order chunks on PUT
// as on PATCH, and for the Location of the finished blob.
func (c *conform) upload(w http.ResponseWriter, req *http.Request, rt route) {
	blobLocation := func(h http.Header) {
		if dig := req.URL.Query().Get("digest"); dig != "" {
			h.Set("Location", blobPath(rt.repo, dig))
		}
	}
	switch req.Method {
	case http.MethodPost:
		if c.mount(w, req, rt) {
			return
		}
		c.next.ServeHTTP(onHeader(w, func(status int, h http.Header) {
			switch status {
			case http.StatusCreated:
				blobLocation(h)
			case http.StatusAccepted:
				id := path.Base(h.Get("Location"))
				h.Set("Docker-Upload-UUID", id)
				c.mu.Lock()
				c.uploads[id] = 0
				c.mu.Unlock()
			}
		}), req)
	case http.MethodGet:
		size, ok := c.uploadSize(rt.ref)
		if !ok {
			writeError(w, http.StatusNotFound, "BLOB_UPLOAD_UNKNOWN", "upload unknown to registry")
			return
		}
		w.Header().Set("Location", req.URL.Path)
		w.Header().Set("Range", uploadRange(size))
		w.Header().Set("Docker-Upload-UUID", rt.ref)
		w.WriteHeader(http.StatusNoContent)
	case http.MethodPatch, http.MethodPut:
		size, ok := c.uploadSize(rt.ref)
		if !ok {
			writeError(w, http.StatusNotFound, "BLOB_UPLOAD_UNKNOWN", "upload unknown to registry")
			return
		}
		if cr := req.Header.Get("Content-Range"); cr != "" {
			start, _, found := strings.Cut(cr, "-")
			if n, err := strconv.ParseInt(start, 10, 64); !found || err != nil || n != size {
				w.Header().Set("Location", req.URL.Path)
				w.Header().Set("Range", uploadRange(size))
				writeError(w, http.StatusRequestedRangeNotSatisfiable, "BLOB_UPLOAD_INVALID",
					fmt.Sprintf("Content-Range %q does not continue the %d bytes received", cr, size))
				return
			}
		}
		c.next.ServeHTTP(onHeader(w, func(status int, h http.Header) {
			c.mu.Lock()
			defer c.mu.Unlock()
			switch status {
			case http.StatusAccepted: // a chunk: the wrapped handler answers Range: 0-<last byte>
				_, last, _ := strings.Cut(h.Get("Range"), "-")
				if n, err := strconv.ParseInt(last, 10, 64); err == nil {
					c.uploads[rt.ref] = n + 1
				}
				h.Set("Docker-Upload-UUID", rt.ref)
			case http.StatusCreated:
				delete(c.uploads, rt.ref)
				blobLocation(h)
			}
		}), req)
	case http.MethodDelete:
		c.mu.Lock()
		_, ok := c.uploads[rt.ref]
		delete(c.uploads, rt.ref)
		c.mu.Unlock()
		if !ok {
			writeError(w, http.StatusNotFound, "BLOB_UPLOAD_UNKNOWN", "upload unknown to registry")
			return
		}
		w.WriteHeader(http.StatusNoContent)
	default:
		c.next.ServeHTTP(w, req)
	}
}

// mount answers POST ?mount=<digest>[&from=<repo>] with 201 when the blob is stored (the
// wrapped handler keeps one blob store for all repositories), and reports whether it did.
func (c *conform) mount(w http.ResponseWriter, req *http.Request, rt route) bool {
	dig := req.URL.Query().Get("mount")
	if dig == "" {
		return false
	}
	h, err := v1.NewHash(dig)
	if err != nil {
		return false
	}
	if _, err := c.blobs.Stat(req.Context(), rt.repo, h); err != nil {
		return false
	}
	w.Header().Set("Location", blobPath(rt.repo, h.String()))
	w.Header().Set("Docker-Content-Digest", h.String())
	w.WriteHeader(http.StatusCreated)
	return true
}

func (c *conform) uploadSize(id string) (int64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	size, ok := c.uploads[id]
	return size, ok
}

// uploadRange is the Range header of an upload session: the inclusive byte range received,
// "0-0" before the first byte, as Docker Registry answers.
func uploadRange(size int64) string {
	return fmt.Sprintf("0-%d", max(size-1, 0))
}

func blobPath(repo, dig string) string {
	return "/v2/" + repo + "/blobs/" + dig
}

// -- manifests ------------------------------------------------------------------------------

// pushed is what a manifest says about itself that the referrers API reports.
type pushed struct {
	MediaType    string            `json:"mediaType"`
	ArtifactType string            `json:"artifactType"`
	Config       *v1.Descriptor    `json:"config"`
	Subject      *v1.Descriptor    `json:"subject"`
	Annotations  map[string]string `json:"annotations"`
}

func (c *conform) manifest(w http.ResponseWriter, req *http.Request, rt route) {
	var want *v1.Hash
	if strings.Contains(rt.ref, ":") {
		h, err := v1.NewHash(rt.ref)
		if err != nil {
			writeError(w, http.StatusBadRequest, "DIGEST_INVALID", fmt.Sprintf("invalid digest %q", rt.ref))
			return
		}
		want = &h
	}
	switch req.Method {
	case http.MethodPut:
		c.putManifest(w, req, rt, want)
	case http.MethodDelete:
		rec := onHeader(w, func(int, http.Header) {})
		c.next.ServeHTTP(rec, req)
		if rec.status != http.StatusAccepted {
			return
		}
		if want == nil {
			c.untag(rt.repo, rt.ref)
			return
		}
		c.forget(rt.repo, want.String())
		for _, tag := range c.tagsOf(rt.repo, want.String()) {
			inner := req.Clone(req.Context())
			inner.URL.Path = "/v2/" + rt.repo + "/manifests/" + tag
			c.next.ServeHTTP(httptest.NewRecorder(), inner)
			c.untag(rt.repo, tag)
		}
	default:
		c.next.ServeHTTP(w, req)
	}
}

func (c *conform) putManifest(w http.ResponseWriter, req *http.Request, rt route, want *v1.Hash) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		writeError(w, http.StatusBadRequest, "MANIFEST_INVALID", err.Error())
		return
	}
	got, _, _ := v1.SHA256(bytes.NewReader(body))
	if want != nil && *want != got {
		writeError(w, http.StatusBadRequest, "DIGEST_INVALID",
			fmt.Sprintf("the manifest's digest is %s, not %s", got, want))
		return
	}
	var m pushed
	if err := json.Unmarshal(body, &m); err != nil {
		writeError(w, http.StatusBadRequest, "MANIFEST_INVALID", err.Error())
		return
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	req.ContentLength = int64(len(body))
	rec := onHeader(w, func(status int, h http.Header) {
		if status != http.StatusCreated {
			return
		}
		h.Set("Location", "/v2/"+rt.repo+"/manifests/"+got.String())
		if m.Subject != nil && c.opts.subjectHeader {
			h.Set("OCI-Subject", m.Subject.Digest.String())
		}
	})
	c.next.ServeHTTP(rec, req)
	if rec.status == http.StatusCreated && want == nil {
		c.mu.Lock()
		if c.tags[rt.repo] == nil {
			c.tags[rt.repo] = map[string]string{}
		}
		c.tags[rt.repo][rt.ref] = got.String()
		c.mu.Unlock()
	}
	if rec.status == http.StatusCreated && m.Subject != nil {
		mediaType := req.Header.Get("Content-Type")
		if mediaType == "" {
			mediaType = m.MediaType
		}
		c.remember(rt.repo, m.Subject.Digest.String(), v1.Descriptor{
			MediaType:    types.MediaType(mediaType),
			Size:         int64(len(body)),
			Digest:       got,
			ArtifactType: artifactType(m, mediaType),
			Annotations:  m.Annotations,
		})
	}
}

// artifactType is the spec's value for a referrer: the manifest's artifactType, else for an
// image manifest its config's mediaType.
func artifactType(m pushed, mediaType string) string {
	if m.ArtifactType != "" || types.MediaType(mediaType).IsIndex() || m.Config == nil {
		return m.ArtifactType
	}
	return string(m.Config.MediaType)
}

// tagsOf lists the tags that point at a manifest, which the wrapped handler keeps serving
// after the manifest is deleted by digest.
func (c *conform) tagsOf(repo, dig string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var tags []string
	for tag, target := range c.tags[repo] {
		if target == dig {
			tags = append(tags, tag)
		}
	}
	return tags
}

func (c *conform) untag(repo, tag string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.tags[repo], tag)
}

// -- referrers ------------------------------------------------------------------------------

func (c *conform) remember(repo, subject string, desc v1.Descriptor) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.referrers[repo] == nil {
		c.referrers[repo] = map[string]map[string]v1.Descriptor{}
	}
	if c.referrers[repo][subject] == nil {
		c.referrers[repo][subject] = map[string]v1.Descriptor{}
	}
	c.referrers[repo][subject][desc.Digest.String()] = desc
}

func (c *conform) forget(repo, dig string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, bySubject := range c.referrers[repo] {
		delete(bySubject, dig)
	}
}

// listReferrers answers 200 with an OCI index for any valid digest, known or not, in any
// repository, known or not.
func (c *conform) listReferrers(w http.ResponseWriter, req *http.Request, rt route) {
	h, err := v1.NewHash(rt.ref)
	if err != nil {
		writeError(w, http.StatusBadRequest, "DIGEST_INVALID", fmt.Sprintf("invalid digest %q", rt.ref))
		return
	}
	filter, filtered := req.URL.Query()["artifactType"]
	filtered = filtered && c.opts.filter
	index := v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: []v1.Descriptor{}}
	c.mu.Lock()
	for _, desc := range c.referrers[rt.repo][h.String()] {
		if !filtered || desc.ArtifactType == filter[0] {
			index.Manifests = append(index.Manifests, desc)
		}
	}
	c.mu.Unlock()
	sort.Slice(index.Manifests, func(i, j int) bool {
		return index.Manifests[i].Digest.String() < index.Manifests[j].Digest.String()
	})
	body, err := json.Marshal(index)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "UNKNOWN", err.Error())
		return
	}
	if filtered {
		w.Header().Set("OCI-Filters-Applied", "artifactType")
	}
	w.Header().Set("Content-Type", string(types.OCIImageIndex))
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	w.Write(body)
}

// -- tags -----------------------------------------------------------------------------------

// listTags asks the wrapped handler for one tag more than the page holds, so that it can tell
// whether another page follows and say so with a Link header, as the spec asks.
func (c *conform) listTags(w http.ResponseWriter, req *http.Request, rt route) {
	query := req.URL.Query()
	n, err := strconv.Atoi(query.Get("n"))
	if err != nil || n <= 0 {
		c.next.ServeHTTP(w, req)
		return
	}
	query.Set("n", strconv.Itoa(n+1))
	inner := req.Clone(req.Context())
	inner.URL.RawQuery = query.Encode()
	rec := httptest.NewRecorder()
	c.next.ServeHTTP(rec, inner)
	var page struct {
		Name string   `json:"name"`
		Tags []string `json:"tags"`
	}
	if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &page) != nil {
		for key, values := range rec.Header() {
			w.Header()[key] = values
		}
		w.WriteHeader(rec.Code)
		w.Write(rec.Body.Bytes())
		return
	}
	if page.Tags == nil {
		page.Tags = []string{}
	}
	if len(page.Tags) > n {
		page.Tags = page.Tags[:n]
		next := url.Values{"n": {strconv.Itoa(n)}, "last": {page.Tags[n-1]}}
		w.Header().Set("Link", fmt.Sprintf(`</v2/%s/tags/list?%s>; rel="next"`, rt.repo, next.Encode()))
	}
	body, _ := json.Marshal(page)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	w.Write(body)
}

// -- responses ------------------------------------------------------------------------------

func writeError(w http.ResponseWriter, status int, code, message string) {
	body, _ := json.Marshal(map[string][]map[string]string{
		"errors": {{"code": code, "message": message}},
	})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	w.Write(body)
}

// statusHook lets the wrapper add headers once the wrapped handler has chosen its status,
// before they are sent, and remembers that status.
type statusHook struct {
	http.ResponseWriter
	hook   func(status int, h http.Header)
	status int
}

func onHeader(w http.ResponseWriter, hook func(status int, h http.Header)) *statusHook {
	return &statusHook{ResponseWriter: w, hook: hook}
}

func (s *statusHook) WriteHeader(status int) {
	if s.status == 0 {
		s.status = status
		s.hook(status, s.Header())
	}
	s.ResponseWriter.WriteHeader(status)
}

func (s *statusHook) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.WriteHeader(http.StatusOK)
	}
	return s.ResponseWriter.Write(b)
}
