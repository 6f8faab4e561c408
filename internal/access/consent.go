package access

import (
	"encoding/json"
	"time"
)

// A consentRule is one active privacy Consent of a patient, reduced to what
// the policy evaluates: its provision tree. careloop honours Consents with
// status active and scope patient-privacy; a provision matches a person when
// its actors (if any) include the person's FHIR reference, a resource type
// when its classes (if any) include the type, and now when its period (if
// any) covers it. The most deeply nested matching provision decides, as the
// FHIR Consent resource defines: a base "deny" with a nested "permit" for
// the family doctor denies everyone else.
type consentRule struct {
	id   string
	root provision
}

type provision struct {
	deny    bool
	actors  map[string]bool
	classes map[string]bool
	start   time.Time
	end     time.Time
	nested  []provision
}

// denies reports whether the rule denies actor (a FHIR reference such as
// Practitioner/1; "" for a person without one) resources of typ at now.
func (c consentRule) denies(actor, typ string, now time.Time) bool {
	decided, deny := c.root.decide(actor, typ, now)
	return decided && deny
}

func (p provision) matches(actor, typ string, now time.Time) bool {
	if len(p.actors) > 0 && !p.actors[actor] {
		return false
	}
	if len(p.classes) > 0 && !p.classes[typ] {
		return false
	}
	if !p.start.IsZero() && now.Before(p.start) {
		return false
	}
	if !p.end.IsZero() && now.After(p.end) {
		return false
	}
	return true
}

// decide returns the decision of the deepest matching provision, and
// whether any matched.
func (p provision) decide(actor, typ string, now time.Time) (decided, deny bool) {
	if !p.matches(actor, typ, now) {
		return false, false
	}
	for _, n := range p.nested {
		if d, nd := n.decide(actor, typ, now); d {
			return true, nd
		}
	}
	return true, p.deny
}

// consentJSON is the part of a Consent the policy reads.
type consentJSON struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	Scope  struct {
		Coding []struct{ Code string } `json:"coding"`
	} `json:"scope"`
	Patient struct {
		Reference string `json:"reference"`
	} `json:"patient"`
	Provision *provisionJSON `json:"provision"`
}

type provisionJSON struct {
	Type   string `json:"type"`
	Period struct {
		Start string `json:"start"`
		End   string `json:"end"`
	} `json:"period"`
	Actor []struct {
		Reference struct {
			Reference string `json:"reference"`
		} `json:"reference"`
	} `json:"actor"`
	Class []struct {
		Code string `json:"code"`
	} `json:"class"`
	Provision []provisionJSON `json:"provision"`
}

// parseConsent returns the rule of a Consent and the id of its patient;
// ok is false for a Consent the policy does not enforce (not active, not
// about privacy, without a patient or a provision, or unreadable).
func parseConsent(raw []byte, base string) (rule consentRule, patient string, ok bool) {
	var c consentJSON
	if err := json.Unmarshal(raw, &c); err != nil || c.Status != "active" || c.Provision == nil {
		return consentRule{}, "", false
	}
	privacy := false
	for _, cd := range c.Scope.Coding {
		privacy = privacy || cd.Code == "patient-privacy"
	}
	if !privacy {
		return consentRule{}, "", false
	}
	patient, isPatient := patientID(c.Patient.Reference, base)
	if !isPatient {
		return consentRule{}, "", false
	}
	return consentRule{id: c.ID, root: c.Provision.provision(false)}, patient, true
}

// provision converts the JSON. A provision without a type is an exception
// to its parent, so it means the opposite; the root's parent is taken as
// permit, so a root without a type denies (the Consent restricts sharing).
func (j provisionJSON) provision(parentDenies bool) provision {
	p := provision{deny: j.Type == "deny" || (j.Type == "" && !parentDenies)}
	for _, a := range j.Actor {
		if a.Reference.Reference != "" {
			if p.actors == nil {
				p.actors = map[string]bool{}
			}
			p.actors[a.Reference.Reference] = true
		}
	}
	for _, c := range j.Class {
		if c.Code != "" {
			if p.classes == nil {
				p.classes = map[string]bool{}
			}
			p.classes[c.Code] = true
		}
	}
	p.start = parseInstant(j.Period.Start, false)
	p.end = parseInstant(j.Period.End, true)
	for _, n := range j.Provision {
		p.nested = append(p.nested, n.provision(p.deny))
	}
	return p
}

// parseInstant reads a FHIR dateTime at day or instant precision; an end
// date covers its whole day. Unreadable values are ignored (zero).
func parseInstant(s string, end bool) time.Time {
	if s == "" {
		return time.Time{}
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		if end {
			return t.Add(24*time.Hour - time.Nanosecond)
		}
		return t
	}
	return time.Time{}
}
