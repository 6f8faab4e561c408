package audit

import (
	"encoding/base64"
	"net"
	"slices"
	"strconv"
	"strings"
)

// FHIR shapes of an entry as an AuditEvent of the IHE Basic Audit Log
// Patterns (BALP). Only what careloop records is shown.

const (
	balpProfileBase   = "https://profiles.ihe.net/ITI/BALP/StructureDefinition/"
	balpEntityType    = "https://profiles.ihe.net/ITI/BALP/CodeSystem/BasicAuditEntityType"
	systemPartType    = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
	systemEntityType  = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
	systemObjectRole  = "http://terminology.hl7.org/CodeSystem/object-role"
	systemSourceType  = "http://terminology.hl7.org/CodeSystem/security-source-type"
	leafIndexExtURL   = "https://careloop.org/fhir/StructureDefinition/audit-leaf-index"
	observerName      = "careloop"
	networkTypeIP     = "2"
	networkTypeDomain = "1"
)

type fhirCoding = Coding

type codeableConcept struct {
	Coding []fhirCoding `json:"coding,omitempty"`
	Text   string       `json:"text,omitempty"`
}

type identifier struct {
	Type  *codeableConcept `json:"type,omitempty"`
	Value string           `json:"value"`
}

type reference struct {
	Reference  string      `json:"reference,omitempty"`
	Identifier *identifier `json:"identifier,omitempty"`
	Display    string      `json:"display,omitempty"`
}

type network struct {
	Address string `json:"address"`
	Type    string `json:"type"`
}

type agent struct {
	Type         *codeableConcept  `json:"type,omitempty"`
	Role         []codeableConcept `json:"role,omitempty"`
	Who          *reference        `json:"who,omitempty"`
	Requestor    bool              `json:"requestor"`
	PurposeOfUse []codeableConcept `json:"purposeOfUse,omitempty"`
	Network      *network          `json:"network,omitempty"`
}

type entity struct {
	What  *reference  `json:"what,omitempty"`
	Type  *fhirCoding `json:"type,omitempty"`
	Role  *fhirCoding `json:"role,omitempty"`
	Query string      `json:"query,omitempty"`
}

type extension struct {
	URL              string `json:"url"`
	ValueUnsignedInt uint64 `json:"valueUnsignedInt"`
}

type meta struct {
	Profile []string `json:"profile,omitempty"`
}

type source struct {
	Observer reference    `json:"observer"`
	Type     []fhirCoding `json:"type"`
}

// AuditEvent is the FHIR R4 AuditEvent resource of an entry.
type AuditEvent struct {
	ResourceType   string            `json:"resourceType"`
	ID             string            `json:"id"`
	Meta           *meta             `json:"meta,omitempty"`
	Extension      []extension       `json:"extension,omitempty"`
	Type           fhirCoding        `json:"type"`
	Subtype        []fhirCoding      `json:"subtype,omitempty"`
	Action         string            `json:"action"`
	Recorded       string            `json:"recorded"`
	Outcome        string            `json:"outcome"`
	OutcomeDesc    string            `json:"outcomeDesc,omitempty"`
	PurposeOfEvent []codeableConcept `json:"purposeOfEvent,omitempty"`
	Agent          []agent           `json:"agent"`
	Source         source            `json:"source"`
	Entity         []entity          `json:"entity,omitempty"`
}

// ToFHIR returns the entry as a BALP AuditEvent; index is its leaf index,
// shown in an extension so that an inclusion proof can be asked for.
func (e *Entry) ToFHIR(index uint64) *AuditEvent {
	ae := &AuditEvent{
		ResourceType: "AuditEvent", ID: e.ID,
		Extension: []extension{{URL: leafIndexExtURL, ValueUnsignedInt: index}},
		Type:      e.Type, Subtype: e.Subtype, Action: string(e.Action),
		Recorded:    e.Recorded.UTC().Format(recordedLayout),
		Outcome:     strconv.Itoa(int(e.Outcome)),
		OutcomeDesc: e.OutcomeDesc,
		Source: source{Observer: reference{Display: observerName},
			Type: []fhirCoding{{System: systemSourceType, Code: "4", Display: "Application Server"}}},
	}
	if p := balpProfile(e); p != "" {
		ae.Meta = &meta{Profile: []string{balpProfileBase + p}}
	}
	var purpose []codeableConcept
	if e.Agent.PurposeOfUse != "" {
		purpose = []codeableConcept{{Coding: []fhirCoding{{System: SystemPurpose, Code: e.Agent.PurposeOfUse}}}}
		ae.PurposeOfEvent = purpose
	}
	if e.Agent.Subject != "" || e.Agent.Name != "" {
		a := agent{
			Type:         &codeableConcept{Coding: []fhirCoding{{System: systemPartType, Code: "IRCP", Display: "information recipient"}}},
			Who:          subjectRef(e.Agent.Subject, e.Agent.Name),
			Requestor:    true,
			PurposeOfUse: purpose,
		}
		if e.Agent.Role != "" {
			a.Role = []codeableConcept{{Text: e.Agent.Role}}
		}
		ae.Agent = append(ae.Agent, a)
	}
	if e.Agent.ClientID != "" || e.Agent.Address != "" {
		a := agent{Type: &codeableConcept{Coding: []fhirCoding{{System: SystemDICOM, Code: "110153", Display: "Source Role ID"}}}}
		if e.Agent.ClientID != "" {
			a.Who = &reference{Identifier: &identifier{Value: e.Agent.ClientID}}
		}
		if e.Agent.Address != "" {
			typ := networkTypeDomain
			if net.ParseIP(e.Agent.Address) != nil {
				typ = networkTypeIP
			}
			a.Network = &network{Address: e.Agent.Address, Type: typ}
		}
		ae.Agent = append(ae.Agent, a)
	}
	ae.Agent = append(ae.Agent, agent{
		Type: &codeableConcept{Coding: []fhirCoding{{System: SystemDICOM, Code: "110152", Display: "Destination Role ID"}}},
		Who:  &reference{Display: observerName},
	})
	for _, p := range e.Patients {
		ae.Entity = append(ae.Entity, entity{What: &reference{Reference: p},
			Type: &fhirCoding{System: systemEntityType, Code: "1", Display: "Person"},
			Role: &fhirCoding{System: systemObjectRole, Code: "1", Display: "Patient"}})
	}
	for _, en := range e.Entities {
		if en.What != "" && slices.Contains(e.Patients, en.What) {
			continue
		}
		x := entity{Type: &fhirCoding{System: systemEntityType, Code: "2", Display: "System Object"}}
		if en.What != "" {
			x.What = &reference{Reference: en.What}
			x.Role = &fhirCoding{System: systemObjectRole, Code: "4", Display: "Domain Resource"}
		}
		if en.Query != "" {
			x.Query = base64.StdEncoding.EncodeToString([]byte(en.Query))
			x.Role = &fhirCoding{System: systemObjectRole, Code: "24", Display: "Query"}
		}
		ae.Entity = append(ae.Entity, x)
	}
	if e.RequestID != "" {
		typ := fhirCoding{System: balpEntityType, Code: "XrequestId"}
		ae.Entity = append(ae.Entity, entity{
			What: &reference{Identifier: &identifier{Type: &codeableConcept{Coding: []fhirCoding{typ}}, Value: e.RequestID}},
			Type: &typ})
	}
	return ae
}

// subjectRef is a FHIR reference for "Type/id" subjects, an identifier
// otherwise.
func subjectRef(subject, name string) *reference {
	r := &reference{Display: name}
	if t, id, ok := strings.Cut(subject, "/"); ok && t != "" && id != "" && t[0] >= 'A' && t[0] <= 'Z' {
		r.Reference = subject
	} else if subject != "" {
		r.Identifier = &identifier{Value: subject}
	}
	return r
}

// balpProfile names the BALP profile a RESTful entry conforms to.
func balpProfile(e *Entry) string {
	if e.Type.Code != TypeRest.Code || e.Type.System != TypeRest.System {
		return ""
	}
	patient := len(e.Patients) > 0
	switch e.Action {
	case Create:
		return pick(patient, "IHE.BasicAudit.PatientCreate", "IHE.BasicAudit.Create")
	case Read:
		return pick(patient, "IHE.BasicAudit.PatientRead", "IHE.BasicAudit.Read")
	case Update:
		return pick(patient, "IHE.BasicAudit.PatientUpdate", "IHE.BasicAudit.Update")
	case Delete:
		return pick(patient, "IHE.BasicAudit.PatientDelete", "IHE.BasicAudit.Delete")
	case Execute:
		return pick(patient, "IHE.BasicAudit.PatientQuery", "IHE.BasicAudit.Query")
	}
	return ""
}

func pick(cond bool, a, b string) string {
	if cond {
		return a
	}
	return b
}

// bundleEntry and Bundle are a FHIR searchset Bundle of AuditEvents.
type bundleEntry struct {
	FullURL  string      `json:"fullUrl,omitempty"`
	Resource *AuditEvent `json:"resource"`
	Search   struct {
		Mode string `json:"mode"`
	} `json:"search"`
}

type bundle struct {
	ResourceType string        `json:"resourceType"`
	Type         string        `json:"type"`
	Entry        []bundleEntry `json:"entry"`
}

func searchBundle(base string, found []Found) *bundle {
	b := &bundle{ResourceType: "Bundle", Type: "searchset", Entry: make([]bundleEntry, 0, len(found))}
	for _, f := range found {
		be := bundleEntry{Resource: f.Entry.ToFHIR(f.Index)}
		if base != "" {
			be.FullURL = strings.TrimRight(base, "/") + "/AuditEvent/" + f.Entry.ID
		}
		be.Search.Mode = "match"
		b.Entry = append(b.Entry, be)
	}
	return b
}
