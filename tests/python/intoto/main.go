// Command intoto checks in-toto Statements with the validators the in-toto attestation project
// ships in its Go library, plus the spec rules those leave out; shipmark's tests run it on the
// records shipmark writes. Usage: intoto FILE... Prints one line per file, "FILE: ok" or "FILE: <error>",
// and exits 1 if any file failed.
package main

import (
	"errors"
	"fmt"
	"os"

	provenance "github.com/in-toto/attestation/go/predicates/provenance/v1"
	testresult "github.com/in-toto/attestation/go/predicates/test_result/v0"
	v1 "github.com/in-toto/attestation/go/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

const (
	slsaProvenanceV1 = "https://slsa.dev/provenance/v1"
	testResultV01    = "https://in-toto.io/attestation/test-result/v0.1"
)

// spec/v1/README.md, parsing rules: "Consumers MUST ignore unrecognized fields unless otherwise
// noted in the predicate specification." (Producers MAY add extension fields.)
var lenient = protojson.UnmarshalOptions{DiscardUnknown: true}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: intoto STATEMENT.json...")
		os.Exit(2)
	}
	failed := false
	for _, path := range os.Args[1:] {
		if err := checkFile(path); err != nil {
			fmt.Printf("%s: %v\n", path, err)
			failed = true
		} else {
			fmt.Printf("%s: ok\n", path)
		}
	}
	if failed {
		os.Exit(1)
	}
}

func checkFile(path string) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var statement v1.Statement
	if err := lenient.Unmarshal(raw, &statement); err != nil {
		return fmt.Errorf("statement: %w", err)
	}
	if err := statement.Validate(); err != nil {
		return fmt.Errorf("statement: %w", err)
	}
	predicate, err := protojson.Marshal(statement.GetPredicate())
	if err != nil {
		return fmt.Errorf("predicate: %w", err)
	}
	switch statement.GetPredicateType() {
	case slsaProvenanceV1:
		return checkProvenance(predicate)
	case testResultV01:
		return checkTestResult(predicate)
	}
	return nil // a predicate type the library has no schema for: the Statement check is all
}

func checkProvenance(predicate []byte) error {
	var prov provenance.Provenance
	if err := lenient.Unmarshal(predicate, &prov); err != nil {
		return fmt.Errorf("provenance: %w", err)
	}
	if err := prov.Validate(); err != nil {
		return fmt.Errorf("provenance: %w", err)
	}
	// The library checks each ResourceDescriptor against its own weaker rule (a name is
	// enough); hold them to the spec's minimum as well.
	groups := []struct {
		field string
		rds   []*v1.ResourceDescriptor
	}{
		{"buildDefinition.resolvedDependencies", prov.GetBuildDefinition().GetResolvedDependencies()},
		{"runDetails.builder.builderDependencies", prov.GetRunDetails().GetBuilder().GetBuilderDependencies()},
		{"runDetails.byproducts", prov.GetRunDetails().GetByproducts()},
	}
	for _, group := range groups {
		for i, rd := range group.rds {
			if err := specMinimum(rd); err != nil {
				return fmt.Errorf("provenance: %s[%d]: %w", group.field, i, err)
			}
		}
	}
	return nil
}

// The test-result spec (spec/predicates/test-result.md): `result` is "One of `PASSED`,
// `WARNED`, or `FAILED`" and `configuration` is a required list of ResourceDescriptors.
// The library ships the message but no Validate for it.
func checkTestResult(predicate []byte) error {
	var result testresult.TestResult
	if err := lenient.Unmarshal(predicate, &result); err != nil {
		return fmt.Errorf("test-result: %w", err)
	}
	switch result.GetResult() {
	case "PASSED", "WARNED", "FAILED":
	default:
		return fmt.Errorf("test-result: result %q is not one of PASSED, WARNED, FAILED", result.GetResult())
	}
	if len(result.GetConfiguration()) == 0 {
		return errors.New("test-result: configuration required")
	}
	for i, rd := range result.GetConfiguration() {
		if err := rd.Validate(); err != nil {
			return fmt.Errorf("test-result: configuration[%d]: %w", i, err)
		}
		if err := specMinimum(rd); err != nil {
			return fmt.Errorf("test-result: configuration[%d]: %w", i, err)
		}
	}
	return nil
}

var errNoLocator = errors.New("a ResourceDescriptor must have a uri, digest or content")

// specMinimum applies spec/v1/resource_descriptor.md: "Though all fields are optional, a
// ResourceDescriptor MUST specify one of `uri`, `digest` or `content` at a minimum."
// ResourceDescriptor.Validate() in v1.2.0 also accepts a descriptor with only a `name`.
func specMinimum(rd *v1.ResourceDescriptor) error {
	if rd.GetUri() == "" && len(rd.GetDigest()) == 0 && len(rd.GetContent()) == 0 {
		return fmt.Errorf("%w (got %s)", errNoLocator, compact(rd))
	}
	return nil
}

func compact(m proto.Message) string {
	text, err := protojson.MarshalOptions{}.Marshal(m)
	if err != nil {
		return "?"
	}
	return string(text)
}
