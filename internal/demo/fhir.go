package demo

import (
	"bytes"
	"encoding/json"
)

// The types in this file are the small subset of FHIR R4 this package writes.
// Field order is JSON output order, so output is byte-stable.

const (
	systemLOINC          = "http://loinc.org"
	systemSNOMED         = "http://snomed.info/sct"
	systemUCUM           = "http://unitsofmeasure.org"
	systemNPI            = "http://hl7.org/fhir/sid/us-npi"
	systemBCP47          = "urn:ietf:bcp:47"
	systemMRN            = "urn:careloop:demo:mrn"
	systemOrderNumber    = "urn:careloop:demo:order"
	systemAccession      = "urn:careloop:demo:accession"
	systemIdentifierType = "http://terminology.hl7.org/CodeSystem/v2-0203"
	systemInterpretation = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
	systemObsCategory    = "http://terminology.hl7.org/CodeSystem/observation-category"
	systemDiagService    = "http://terminology.hl7.org/CodeSystem/v2-0074"
	systemRefMeaning     = "http://terminology.hl7.org/CodeSystem/referencerange-meaning"
	systemRoleCode       = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"
	systemOrgType        = "http://terminology.hl7.org/CodeSystem/organization-type"
	systemPractRole      = "http://terminology.hl7.org/CodeSystem/practitioner-role"
	systemCondClinical   = "http://terminology.hl7.org/CodeSystem/condition-clinical"
	systemCondVerify     = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
	systemCondCategory   = "http://terminology.hl7.org/CodeSystem/condition-category"
	systemStaffRole      = "https://careloop.org/fhir/CodeSystem/staff-role"
	systemCommCategory   = "http://terminology.hl7.org/CodeSystem/communication-category"
	systemPartMode       = "http://terminology.hl7.org/CodeSystem/v3-ParticipationMode"
)

// ContactPreferencesURL is the URL of the Patient extension that carries a
// patient's contact preferences. Its sub-extensions are "channel" (valueCode
// email, sms or none; repeated, most preferred first; none appears alone),
// "quietHoursStart" and "quietHoursEnd" (valueTime, local to the time zone),
// "timeZone" (valueCode, an IANA time zone name) and "healthInfoInMessages"
// (valueBoolean). The Patient.telecom that serves the channel of preference n
// (the mobile phone for sms, the e-mail address for email) has rank n.
const ContactPreferencesURL = "https://careloop.org/fhir/StructureDefinition/contact-preferences"

type reference struct {
	Reference string `json:"reference"`
	Display   string `json:"display,omitempty"`
}

func ref(typ, id string) *reference { return &reference{Reference: typ + "/" + id} }

type coding struct {
	System  string `json:"system"`
	Code    string `json:"code"`
	Display string `json:"display,omitempty"`
}

type codeableConcept struct {
	Coding []coding `json:"coding,omitempty"`
	Text   string   `json:"text,omitempty"`
}

// concept returns a CodeableConcept with one coding and no text.
func concept(system, code, display string) codeableConcept {
	return codeableConcept{Coding: []coding{{System: system, Code: code, Display: display}}}
}

type identifier struct {
	Use    string           `json:"use,omitempty"`
	Type   *codeableConcept `json:"type,omitempty"`
	System string           `json:"system"`
	Value  string           `json:"value"`
}

type humanName struct {
	Use    string   `json:"use,omitempty"`
	Text   string   `json:"text,omitempty"`
	Family string   `json:"family,omitempty"`
	Given  []string `json:"given,omitempty"`
	Prefix []string `json:"prefix,omitempty"`
	Suffix []string `json:"suffix,omitempty"`
}

type contactPoint struct {
	System string `json:"system"`
	Value  string `json:"value"`
	Use    string `json:"use,omitempty"`
	Rank   int    `json:"rank,omitempty"`
}

type address struct {
	Use        string   `json:"use,omitempty"`
	Type       string   `json:"type,omitempty"`
	Line       []string `json:"line,omitempty"`
	City       string   `json:"city,omitempty"`
	State      string   `json:"state,omitempty"`
	PostalCode string   `json:"postalCode,omitempty"`
	Country    string   `json:"country,omitempty"`
}

type extension struct {
	URL          string      `json:"url"`
	Extension    []extension `json:"extension,omitempty"`
	ValueCode    string      `json:"valueCode,omitempty"`
	ValueTime    string      `json:"valueTime,omitempty"`
	ValueBoolean *bool       `json:"valueBoolean,omitempty"`
}

type quantity struct {
	Value  json.Number `json:"value"`
	Unit   string      `json:"unit,omitempty"`
	System string      `json:"system,omitempty"`
	Code   string      `json:"code,omitempty"`
}

type rangeQ struct {
	Low  *quantity `json:"low,omitempty"`
	High *quantity `json:"high,omitempty"`
}

type referenceRange struct {
	Low  *quantity       `json:"low,omitempty"`
	High *quantity       `json:"high,omitempty"`
	Type codeableConcept `json:"type"`
	Age  *rangeQ         `json:"age,omitempty"`
	Text string          `json:"text,omitempty"`
}

type annotation struct {
	Time string `json:"time,omitempty"`
	Text string `json:"text"`
}

type organizationJSON struct {
	ResourceType string            `json:"resourceType"`
	ID           string            `json:"id"`
	Identifier   []identifier      `json:"identifier,omitempty"`
	Active       bool              `json:"active"`
	Type         []codeableConcept `json:"type,omitempty"`
	Name         string            `json:"name"`
	Telecom      []contactPoint    `json:"telecom,omitempty"`
	Address      []address         `json:"address,omitempty"`
}

type locationJSON struct {
	ResourceType         string            `json:"resourceType"`
	ID                   string            `json:"id"`
	Status               string            `json:"status"`
	Name                 string            `json:"name"`
	Description          string            `json:"description,omitempty"`
	Mode                 string            `json:"mode"`
	Type                 []codeableConcept `json:"type,omitempty"`
	Telecom              []contactPoint    `json:"telecom,omitempty"`
	Address              *address          `json:"address,omitempty"`
	ManagingOrganization *reference        `json:"managingOrganization,omitempty"`
	PartOf               *reference        `json:"partOf,omitempty"`
}

type practitionerJSON struct {
	ResourceType string         `json:"resourceType"`
	ID           string         `json:"id"`
	Identifier   []identifier   `json:"identifier,omitempty"`
	Active       bool           `json:"active"`
	Name         []humanName    `json:"name"`
	Telecom      []contactPoint `json:"telecom,omitempty"`
	Gender       string         `json:"gender,omitempty"`
}

type practitionerRoleJSON struct {
	ResourceType string            `json:"resourceType"`
	ID           string            `json:"id"`
	Active       bool              `json:"active"`
	Practitioner *reference        `json:"practitioner"`
	Organization *reference        `json:"organization"`
	Code         []codeableConcept `json:"code"`
	Specialty    []codeableConcept `json:"specialty,omitempty"`
	Location     []reference       `json:"location,omitempty"`
	Telecom      []contactPoint    `json:"telecom,omitempty"`
}

type patientContact struct {
	Relationship []codeableConcept `json:"relationship"`
	Name         humanName         `json:"name"`
	Telecom      []contactPoint    `json:"telecom,omitempty"`
	Gender       string            `json:"gender,omitempty"`
}

type communication struct {
	Language  codeableConcept `json:"language"`
	Preferred bool            `json:"preferred"`
}

type patientJSON struct {
	ResourceType         string           `json:"resourceType"`
	ID                   string           `json:"id"`
	Extension            []extension      `json:"extension,omitempty"`
	Identifier           []identifier     `json:"identifier"`
	Active               bool             `json:"active"`
	Name                 []humanName      `json:"name"`
	Telecom              []contactPoint   `json:"telecom,omitempty"`
	Gender               string           `json:"gender"`
	BirthDate            string           `json:"birthDate"`
	Address              []address        `json:"address,omitempty"`
	Contact              []patientContact `json:"contact,omitempty"`
	Communication        []communication  `json:"communication,omitempty"`
	GeneralPractitioner  []reference      `json:"generalPractitioner,omitempty"`
	ManagingOrganization *reference       `json:"managingOrganization,omitempty"`
}

type conditionJSON struct {
	ResourceType       string            `json:"resourceType"`
	ID                 string            `json:"id"`
	ClinicalStatus     codeableConcept   `json:"clinicalStatus"`
	VerificationStatus codeableConcept   `json:"verificationStatus"`
	Category           []codeableConcept `json:"category"`
	Code               codeableConcept   `json:"code"`
	Subject            *reference        `json:"subject"`
	OnsetDateTime      string            `json:"onsetDateTime,omitempty"`
	Asserter           *reference        `json:"asserter,omitempty"`
}

type serviceRequestJSON struct {
	ResourceType    string            `json:"resourceType"`
	ID              string            `json:"id"`
	Identifier      []identifier      `json:"identifier,omitempty"`
	Status          string            `json:"status"`
	Intent          string            `json:"intent"`
	Category        []codeableConcept `json:"category,omitempty"`
	Priority        string            `json:"priority"`
	Code            codeableConcept   `json:"code"`
	Subject         *reference        `json:"subject"`
	AuthoredOn      string            `json:"authoredOn"`
	Requester       *reference        `json:"requester"`
	Performer       []reference       `json:"performer,omitempty"`
	ReasonCode      []codeableConcept `json:"reasonCode,omitempty"`
	ReasonReference []reference       `json:"reasonReference,omitempty"`
	Note            []annotation      `json:"note,omitempty"`
}

type specimenCollection struct {
	Collector         *reference `json:"collector,omitempty"`
	CollectedDateTime string     `json:"collectedDateTime"`
}

type specimenJSON struct {
	ResourceType        string             `json:"resourceType"`
	ID                  string             `json:"id"`
	AccessionIdentifier *identifier        `json:"accessionIdentifier,omitempty"`
	Status              string             `json:"status"`
	Type                codeableConcept    `json:"type"`
	Subject             *reference         `json:"subject"`
	ReceivedTime        string             `json:"receivedTime,omitempty"`
	Request             []reference        `json:"request"`
	Collection          specimenCollection `json:"collection"`
}

type observationJSON struct {
	ResourceType         string            `json:"resourceType"`
	ID                   string            `json:"id"`
	BasedOn              []reference       `json:"basedOn"`
	Status               string            `json:"status"`
	Category             []codeableConcept `json:"category"`
	Code                 codeableConcept   `json:"code"`
	Subject              *reference        `json:"subject"`
	EffectiveDateTime    string            `json:"effectiveDateTime"`
	Issued               string            `json:"issued"`
	Performer            []reference       `json:"performer,omitempty"`
	ValueQuantity        *quantity         `json:"valueQuantity,omitempty"`
	ValueCodeableConcept *codeableConcept  `json:"valueCodeableConcept,omitempty"`
	Interpretation       []codeableConcept `json:"interpretation"`
	Note                 []annotation      `json:"note,omitempty"`
	Specimen             *reference        `json:"specimen"`
	ReferenceRange       []referenceRange  `json:"referenceRange"`
}

type diagnosticReportJSON struct {
	ResourceType       string            `json:"resourceType"`
	ID                 string            `json:"id"`
	BasedOn            []reference       `json:"basedOn"`
	Status             string            `json:"status"`
	Category           []codeableConcept `json:"category"`
	Code               codeableConcept   `json:"code"`
	Subject            *reference        `json:"subject"`
	EffectiveDateTime  string            `json:"effectiveDateTime"`
	Issued             string            `json:"issued"`
	Performer          []reference       `json:"performer"`
	ResultsInterpreter []reference       `json:"resultsInterpreter,omitempty"`
	Specimen           []reference       `json:"specimen"`
	Result             []reference       `json:"result"`
	Conclusion         string            `json:"conclusion,omitempty"`
}

type period struct {
	Start string `json:"start,omitempty"`
	End   string `json:"end,omitempty"`
}

type scheduleJSON struct {
	ResourceType    string            `json:"resourceType"`
	ID              string            `json:"id"`
	Active          bool              `json:"active"`
	ServiceType     []codeableConcept `json:"serviceType"`
	Specialty       []codeableConcept `json:"specialty,omitempty"`
	Actor           []reference       `json:"actor"`
	PlanningHorizon *period           `json:"planningHorizon,omitempty"`
	Comment         string            `json:"comment,omitempty"`
}

type slotJSON struct {
	ResourceType string            `json:"resourceType"`
	ID           string            `json:"id"`
	ServiceType  []codeableConcept `json:"serviceType,omitempty"`
	Schedule     *reference        `json:"schedule"`
	Status       string            `json:"status"`
	Start        string            `json:"start"`
	End          string            `json:"end"`
}

type communicationPayload struct {
	ContentString string `json:"contentString"`
}

type communicationJSON struct {
	ResourceType string                 `json:"resourceType"`
	ID           string                 `json:"id"`
	Status       string                 `json:"status"`
	Category     []codeableConcept      `json:"category,omitempty"`
	Priority     string                 `json:"priority,omitempty"`
	Medium       []codeableConcept      `json:"medium,omitempty"`
	Subject      *reference             `json:"subject"`
	About        []reference            `json:"about,omitempty"`
	Sent         string                 `json:"sent"`
	Recipient    []reference            `json:"recipient"`
	Sender       *reference             `json:"sender"`
	Payload      []communicationPayload `json:"payload"`
}

// numberJSON returns the decimal s as a JSON number, keeping its precision
// (FHIR decimals are significant: "1.20" is not "1.2").
func numberJSON(s string) json.Number { return json.Number(s) }

// marshal encodes v, a value of one of the types above, without escaping
// <, > and & (reference range texts such as "<=149 mg/dL" stay readable). It
// panics if v cannot be encoded: that would be a bug in this package, not bad
// input.
func marshal(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic("demo: encode resource: " + err.Error())
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}
