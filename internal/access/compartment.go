package access

import (
	"slices"
	"strings"
	"sync"
	"unsafe"

	"github.com/tidwall/gjson"

	"github.com/careloop/careloop/internal/fhir"
	"github.com/careloop/careloop/internal/fhir/spec"
)

// A compartmentPath is an element path whose references place a resource
// in a patient's compartment, as the steps of a FHIRPath such as
// Observation.performer or Appointment.participant.actor.
type compartmentPath []string

// compartmentPaths holds the compiled paths per resource type
// (map[string][]compartmentPath, built on first use).
var compartmentPaths sync.Map

// pathsOf returns the paths of typ's compartment parameters; nil for a type
// outside the Patient compartment. ok is false when a parameter's
// expression is not a plain element path (TestCompartmentPathsCompile keeps
// that from happening with the generated definitions); such a type is then
// treated as belonging to no patient, which hides it rather than shows it.
func pathsOf(typ string) (paths []compartmentPath, ok bool) {
	if v, found := compartmentPaths.Load(typ); found {
		c := v.(compiledPaths)
		return c.paths, c.ok
	}
	c := compilePaths(typ)
	compartmentPaths.Store(typ, c)
	return c.paths, c.ok
}

type compiledPaths struct {
	paths []compartmentPath
	ok    bool
}

func compilePaths(typ string) compiledPaths {
	c := compiledPaths{ok: true}
	for _, code := range spec.PatientCompartmentParams(typ) {
		p, found := spec.LookupSearchParam(typ, code)
		if !found {
			c.ok = false
			continue
		}
		for _, part := range strings.Split(p.Expression, " | ") {
			path, ok := elementPath(typ, part)
			if !ok {
				c.ok = false
				continue
			}
			c.paths = append(c.paths, path)
		}
	}
	return c
}

// elementPath turns "Type.a.b" or "Type.a.b.where(resolve() is Patient)"
// into [a b]. Only references to Patient count for the compartment, so the
// type filter may be dropped.
func elementPath(typ, expr string) (compartmentPath, bool) {
	expr = strings.TrimSpace(expr)
	if i := strings.Index(expr, ".where(resolve() is "); i >= 0 && strings.HasSuffix(expr, ")") {
		expr = expr[:i]
	}
	rest, ok := strings.CutPrefix(expr, typ+".")
	if !ok || rest == "" || strings.ContainsAny(rest, "()[] '") {
		return nil, false
	}
	return strings.Split(rest, "."), true
}

// patientsOf returns the ids of the patients in whose compartment the
// resource is: the Patient itself, and every Patient its compartment
// parameters refer to (relative "Patient/id" references, or absolute ones
// under base, the server's /fhir URL). It reads the JSON without decoding
// it whole, which keeps a policy decision within microseconds.
func patientsOf(typ, id string, raw []byte, base string) ([]string, bool) {
	paths, ok := pathsOf(typ)
	var out []string
	if typ == "Patient" {
		out = append(out, id)
	}
	if len(paths) == 0 {
		return out, ok
	}
	found := func(ref string) {
		if pid, isPatient := patientID(ref, base); isPatient {
			out = append(out, strings.Clone(pid)) // pid points into raw
		}
	}
	// One pass over the top-level members: most paths are one step long,
	// and a scan per path would read the resource several times. The scan
	// reads raw in place (ParseBytes would copy it first); nothing that
	// points into it is kept.
	gjson.Parse(unsafe.String(unsafe.SliceData(raw), len(raw))).ForEach(func(key, value gjson.Result) bool {
		for _, path := range paths {
			if path[0] == key.Str {
				collect(value, path[1:], found)
			}
		}
		return true
	})
	return out, ok
}

// collect calls found with the reference string of every element at path
// below v, descending into arrays at any step.
func collect(v gjson.Result, path compartmentPath, found func(string)) {
	if v.IsArray() {
		v.ForEach(func(_, e gjson.Result) bool {
			collect(e, path, found)
			return true
		})
		return
	}
	if len(path) == 0 {
		if r := v.Get("reference"); r.Type == gjson.String {
			found(r.Str)
		}
		return
	}
	if !v.IsObject() {
		return
	}
	next := v.Get(gjsonKey(path[0]))
	if next.Exists() {
		collect(next, path[1:], found)
	}
}

// gjsonKey escapes the characters gjson treats as path syntax; FHIR
// element names never contain them, but a path must not be misread.
func gjsonKey(name string) string {
	if !strings.ContainsAny(name, `.*?|#@\!=<>%`) {
		return name
	}
	var b strings.Builder
	for _, r := range name {
		if strings.ContainsRune(`.*?|#@\!=<>%`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// patientID returns the id of a reference to a Patient on this server:
// "Patient/id", "Patient/id/_history/n", or the same under base.
func patientID(ref, base string) (string, bool) {
	if base != "" {
		if rest, ok := strings.CutPrefix(ref, base+"/"); ok {
			ref = rest
		}
	}
	rest, ok := strings.CutPrefix(ref, "Patient/")
	if !ok || rest == "" {
		return "", false
	}
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		if !strings.HasPrefix(rest[i:], "/_history/") {
			return "", false
		}
		rest = rest[:i]
	}
	return rest, true
}

// storedPatients returns the patients of a stored resource: those the store
// kept with it when it knows them, else those its JSON names.
func storedPatients(st *fhir.Stored, base string) ([]string, bool) {
	if st.CompartmentKnown {
		return st.Patients, true
	}
	return patientsOf(st.Type, st.ID, st.JSON, base)
}

// PatientsOf returns the ids of the patients in whose compartment a stored
// resource is (see patientsOf), each once; base is the server's /fhir URL.
// The audit log names them as the patients an access concerned.
func PatientsOf(st *fhir.Stored, base string) []string {
	ids, _ := storedPatients(st, base)
	if len(ids) < 2 {
		return ids
	}
	return slices.Compact(slices.Sorted(slices.Values(ids)))
}

// Compartments returns the function with which the FHIR store keeps each
// version's patients (fhir.Store.KeepCompartments): the ids, each once, of
// the patients in whose compartment a resource is; base is the server's
// /fhir URL. The policy and the audit log then read them from the store.
func Compartments(base string) fhir.CompartmentFunc {
	return func(typ, id string, raw []byte) ([]string, bool) {
		ids, ok := patientsOf(typ, id, raw, base)
		if !ok {
			return nil, false
		}
		return slices.Compact(slices.Sorted(slices.Values(ids))), true
	}
}
