package journey

import (
	"regexp"
	"time"

	"github.com/tidwall/gjson"
)

// watched are the resource types that move journeys; writes of other types
// get no journey.changes job.
var watched = map[string]bool{
	"ServiceRequest": true, "Specimen": true, "DiagnosticReport": true, "Observation": true, "Task": true,
	"Appointment": true, "Communication": true, "Procedure": true, "ImagingStudy": true,
}

// applyOrder is the order in which the versions of one job are applied:
// orders before the steps and reports that name them, reports before the
// Observations they list, so that a transaction carrying all of them
// builds one journey.
var applyOrder = map[string]int{
	"ServiceRequest": 0, "DiagnosticReport": 1, "Specimen": 2, "Task": 2, "Appointment": 2, "Procedure": 2,
	"ImagingStudy": 2, "Observation": 3, "Communication": 4,
}

// refPattern takes "Type/id" from a relative or absolute reference, with or
// without a version.
var refPattern = regexp.MustCompile(`(?:^|/)([A-Z][A-Za-z]{1,63})/([A-Za-z0-9\-.]{1,64})(?:/_history/[0-9]+)?$`)

// localRef returns the reference as "Type/id", or "" when it names no
// resource by type and id (a contained resource, an identifier, urn:uuid).
func localRef(ref string) string {
	m := refPattern.FindStringSubmatch(ref)
	if m == nil {
		return ""
	}
	return m[1] + "/" + m[2]
}

// resource is what the journeys read of a FHIR resource version.
type resource struct {
	Type, ID   string
	Version    int64
	At         time.Time // meta.lastUpdated of the version
	Status     string
	Patient    string   // Patient id
	BasedOn    []string // "Type/id" of basedOn, Specimen.request, Task.focus, Communication.about
	Reasons    []string // reasonReference, for follow-up orders
	Results    []string // DiagnosticReport.result
	System     string
	Code       string
	Display    string
	Clinician  string // ServiceRequest.requester or DiagnosticReport.performer, if a Practitioner
	Lab        bool   // an Observation of category laboratory
	ToPatient  bool   // a Communication with the patient or a related person among its recipients
	ResultTime time.Time
	Collected  bool // a Specimen with its collection time
	JSON       []byte
}

// cause names the version: "Type/id/_history/v".
func (r *resource) cause() string {
	return r.Type + "/" + r.ID + "/_history/" + itoa(r.Version)
}

func (r *resource) ref() string { return r.Type + "/" + r.ID }

func itoa(v int64) string {
	var b [20]byte
	i := len(b)
	if v == 0 {
		return "0"
	}
	for v > 0 {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
	}
	return string(b[i:])
}

// parse reads a resource version's JSON.
func parse(typ, id string, version int64, at time.Time, raw []byte) *resource {
	doc := gjson.ParseBytes(raw)
	r := &resource{Type: typ, ID: id, Version: version, At: at, Status: doc.Get("status").String(), JSON: raw}
	refs := func(path string) []string {
		var out []string
		doc.Get(path).ForEach(func(_, v gjson.Result) bool {
			if ref := localRef(v.Get("reference").String()); ref != "" {
				out = append(out, ref)
			}
			return true
		})
		return out
	}
	one := func(path string) string { return localRef(doc.Get(path + ".reference").String()) }
	patient := func(ref string) {
		if r.Patient == "" && len(ref) > len("Patient/") && ref[:len("Patient/")] == "Patient/" {
			r.Patient = ref[len("Patient/"):]
		}
	}
	switch typ {
	case "Task":
		patient(one("for"))
		r.BasedOn = append(refs("basedOn"), one("focus"))
	case "Appointment":
		doc.Get("participant").ForEach(func(_, v gjson.Result) bool {
			patient(localRef(v.Get("actor.reference").String()))
			return true
		})
		r.BasedOn = refs("basedOn")
	case "Specimen":
		patient(one("subject"))
		r.BasedOn = refs("request")
		r.Collected = doc.Get("collection.collectedDateTime").Exists() || doc.Get("collection.collectedPeriod").Exists()
	case "Communication":
		patient(one("subject"))
		r.BasedOn = append(refs("basedOn"), refs("about")...)
		doc.Get("recipient").ForEach(func(_, v gjson.Result) bool {
			ref := localRef(v.Get("reference").String())
			if len(ref) > 8 && (ref[:8] == "Patient/" || (len(ref) > 14 && ref[:14] == "RelatedPerson/")) {
				r.ToPatient = true
			}
			return true
		})
	default:
		patient(one("subject"))
		r.BasedOn = refs("basedOn")
	}
	r.Reasons = refs("reasonReference")
	r.Results = refs("result")
	code := doc.Get("code")
	if typ == "ImagingStudy" {
		code = doc.Get("procedureCode.0")
	}
	if c := code.Get("coding.0"); c.Exists() {
		r.System, r.Code, r.Display = c.Get("system").String(), c.Get("code").String(), c.Get("display").String()
	}
	if t := code.Get("text").String(); t != "" {
		r.Display = t
	}
	switch typ {
	case "ServiceRequest":
		r.Clinician = practitioner(one("requester"))
	case "DiagnosticReport":
		for _, ref := range refs("performer") {
			if r.Clinician = practitioner(ref); r.Clinician != "" {
				break
			}
		}
	case "Observation":
		doc.Get("category").ForEach(func(_, c gjson.Result) bool {
			c.Get("coding").ForEach(func(_, cd gjson.Result) bool {
				if cd.Get("code").String() == "laboratory" {
					r.Lab = true
				}
				return !r.Lab
			})
			return !r.Lab
		})
	}
	for _, path := range []string{"issued", "effectiveDateTime", "effectivePeriod.end", "effectivePeriod.start"} {
		if t, err := time.Parse(time.RFC3339Nano, doc.Get(path).String()); err == nil {
			r.ResultTime = t.UTC()
			break
		}
	}
	return r
}

// practitioner returns ref when it names a Practitioner.
func practitioner(ref string) string {
	if len(ref) > 13 && ref[:13] == "Practitioner/" {
		return ref
	}
	return ""
}

// basedOnOrders returns the ServiceRequests among r's basedOn.
func (r *resource) basedOnOrders() []string {
	var out []string
	for _, ref := range r.BasedOn {
		if len(ref) > 15 && ref[:15] == "ServiceRequest/" {
			out = append(out, ref)
		}
	}
	return out
}

// orderStage maps a ServiceRequest status to a stage; ok false leaves the
// stage as it is (draft, on-hold, completed: a report will follow).
func orderStage(status string) (Stage, bool) {
	switch status {
	case "active":
		return Ordered, true
	case "revoked":
		return Cancelled, true
	case "entered-in-error":
		return EnteredInError, true
	}
	return "", false
}

// reportStage maps a DiagnosticReport (or a stand-alone Observation)
// status to a stage; correction is true for amended, corrected and
// appended results, which go back to final and need review again.
func reportStage(status string) (stage Stage, correction, ok bool) {
	switch status {
	case "registered":
		return InProgress, false, true
	case "partial", "preliminary":
		return Preliminary, false, true
	case "final":
		return Final, false, true
	case "amended", "corrected", "appended":
		return Final, true, true
	case "cancelled":
		return Cancelled, false, true
	case "entered-in-error":
		return EnteredInError, false, true
	}
	return "", false, false
}

// stepStage maps the status of a step of an order (Specimen, Task,
// Appointment, Procedure, ImagingStudy) to a stage.
func stepStage(typ, status string, collected bool) (Stage, bool) {
	switch typ {
	case "Specimen":
		if status == "available" || collected && status != "entered-in-error" && status != "unavailable" {
			return Collected, true
		}
	case "Task":
		switch status {
		case "requested", "received", "accepted", "ready":
			return Scheduled, true
		case "in-progress":
			return InProgress, true
		case "completed":
			return Collected, true
		}
	case "Appointment":
		switch status {
		case "booked", "arrived", "checked-in", "fulfilled":
			return Scheduled, true
		}
	case "Procedure":
		switch status {
		case "preparation":
			return Scheduled, true
		case "completed":
			return Collected, true
		}
	case "ImagingStudy":
		switch status {
		case "registered":
			return Scheduled, true
		case "available":
			return Collected, true
		}
	}
	return "", false
}
