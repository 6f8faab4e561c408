package fhir

import (
	"encoding/json"
	"sort"
	"time"

	"github.com/careloop/careloop/internal/fhir/spec"
)

// searchable are the parameter types the search engine evaluates;
// composites only when their components can be (unsupported leaves the
// others out).
var searchable = map[string]bool{"token": true, "string": true, "date": true, "reference": true, "quantity": true, "number": true, "uri": true, "composite": true}

// Capabilities returns the CapabilityStatement of the API: every R4
// resource type with the interactions it supports, and for each type the
// search parameters the index can evaluate, composites included. unsupported
// lists, per type, parameters to leave out. _include and _revinclude take
// every reference parameter, Type:* and *, also with :iterate.
//
// tokenURL, when not empty, is the OAuth token endpoint of SMART Backend
// Services clients, announced in rest.security.
func Capabilities(baseURL, version, tokenURL string, unsupported func(typ string) []string) []byte {
	type param struct {
		Name       string `json:"name"`
		Definition string `json:"definition,omitempty"`
		Type       string `json:"type"`
	}
	type interaction struct {
		Code string `json:"code"`
	}
	type resource struct {
		Type              string        `json:"type"`
		Interaction       []interaction `json:"interaction"`
		Versioning        string        `json:"versioning"`
		ReadHistory       bool          `json:"readHistory"`
		UpdateCreate      bool          `json:"updateCreate"`
		ConditionalCreate bool          `json:"conditionalCreate"`
		ConditionalUpdate bool          `json:"conditionalUpdate"`
		ConditionalDelete string        `json:"conditionalDelete"`
		SearchInclude     []string      `json:"searchInclude,omitempty"`
		SearchRevInclude  []string      `json:"searchRevInclude,omitempty"`
		SearchParam       []param       `json:"searchParam,omitempty"`
		Operation         []any         `json:"operation,omitempty"`
	}
	interactions := []interaction{{"read"}, {"vread"}, {"update"}, {"patch"}, {"delete"}, {"history-instance"}, {"history-type"}, {"create"}, {"search-type"}}
	var resources []resource
	refParams := map[string][]string{} // type -> Type:param of reference parameters pointing at it
	for _, t := range spec.ResourceTypes() {
		for code, p := range spec.SearchParams(t) {
			if p.Type == "reference" {
				for _, target := range p.Targets {
					refParams[target] = append(refParams[target], t+":"+code)
				}
			}
		}
	}
	for _, t := range spec.ResourceTypes() {
		r := resource{Type: t, Interaction: interactions, Versioning: "versioned", ReadHistory: true, UpdateCreate: true,
			ConditionalCreate: true, ConditionalUpdate: true, ConditionalDelete: "not-supported"}
		skip := map[string]bool{}
		if unsupported != nil {
			for _, c := range unsupported(t) {
				skip[c] = true
			}
		}
		for code, p := range spec.SearchParams(t) {
			if !searchable[string(p.Type)] || skip[code] {
				continue
			}
			r.SearchParam = append(r.SearchParam, param{Name: code, Definition: p.URL, Type: string(p.Type)})
			if p.Type == "reference" && !skip[code] {
				r.SearchInclude = append(r.SearchInclude, t+":"+code)
			}
		}
		sort.Slice(r.SearchParam, func(i, j int) bool { return r.SearchParam[i].Name < r.SearchParam[j].Name })
		if len(r.SearchInclude) > 0 {
			r.SearchInclude = append(r.SearchInclude, t+":*", "*")
		}
		sort.Strings(r.SearchInclude)
		r.SearchRevInclude = append([]string(nil), refParams[t]...)
		if len(r.SearchRevInclude) > 0 {
			r.SearchRevInclude = append(r.SearchRevInclude, "*")
		}
		sort.Strings(r.SearchRevInclude)
		if t == "Patient" {
			r.Operation = []any{
				map[string]string{"name": "everything", "definition": "http://hl7.org/fhir/OperationDefinition/Patient-everything"},
				map[string]string{"name": "export", "definition": "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/patient-export"},
			}
		}
		resources = append(resources, r)
	}
	cs := map[string]any{
		"resourceType": "CapabilityStatement",
		"status":       "active",
		"date":         time.Now().UTC().Format("2006-01-02"),
		"kind":         "instance",
		"software":     map[string]string{"name": "careloop", "version": version},
		"implementation": map[string]string{
			"description": "careloop FHIR R4 API",
			"url":         baseURL,
		},
		"fhirVersion": "4.0.1",
		"format":      []string{"application/fhir+json", "json"},
		"patchFormat": []string{"application/json-patch+json"},
		"rest": []any{map[string]any{
			"mode":     "server",
			"security": security(tokenURL),
			"resource": resources,
			"operation": []map[string]string{
				{"name": "export", "definition": "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export"},
			},
			"interaction": []interaction{{"transaction"}, {"batch"}, {"history-system"}},
			"searchParam": []param{{Name: "_id", Type: "token"}, {Name: "_lastUpdated", Type: "date"}, {Name: "_count", Type: "number"},
				{Name: "_sort", Type: "string"}, {Name: "_include", Type: "string"}, {Name: "_revinclude", Type: "string"},
				{Name: "_summary", Type: "string"}, {Name: "_elements", Type: "string"}, {Name: "_total", Type: "string"}},
		}},
	}
	b, _ := json.Marshal(cs)
	return b
}

// security describes how callers authenticate: API keys, and SMART Backend
// Services clients when there is a token endpoint.
func security(tokenURL string) map[string]any {
	sec := map[string]any{
		"cors":        false,
		"description": "Every request needs a bearer token: an API key issued with 'careloop apikey create', or an access token of a SMART Backend Services client ('careloop client create', then the token endpoint).",
	}
	if tokenURL != "" {
		sec["service"] = []any{map[string]any{
			"coding": []any{map[string]string{"system": "http://terminology.hl7.org/CodeSystem/restful-security-service", "code": "SMART-on-FHIR"}},
		}}
		sec["extension"] = []any{map[string]any{
			"url":       "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris",
			"extension": []any{map[string]string{"url": "token", "valueUri": tokenURL}},
		}}
	}
	return sec
}
