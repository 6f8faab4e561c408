package fhir

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/careloop/careloop/internal/platform/errs"
	"github.com/careloop/careloop/internal/platform/httpx"
)

// Issue is one issue of an OperationOutcome.
type Issue struct {
	Severity   string // fatal, error, warning, information
	Code       string // an IssueType code: invalid, structure, required, value, not-found, ...
	Expression string // FHIRPath location of the element at fault, if any
	Message    string // for people
}

// OutcomeError is an error with several issues, answered as one
// OperationOutcome. Code decides the HTTP status through errs.HTTPStatus.
type OutcomeError struct {
	Code   errs.Code
	Issues []Issue
}

func (e *OutcomeError) Error() string {
	if len(e.Issues) == 0 {
		return string(e.Code)
	}
	msg := e.Issues[0].Message
	if len(e.Issues) > 1 {
		msg += " (and more)"
	}
	return msg
}

// issueType maps an error code to the OperationOutcome issue type.
func issueType(c errs.Code) string {
	switch c {
	case errs.Invalid:
		return "invalid"
	case errs.Unprocessable:
		return "processing"
	case errs.NotFound:
		return "not-found"
	case errs.Gone:
		return "deleted"
	case errs.Conflict, errs.PreconditionFailed:
		return "conflict"
	case errs.TooLarge:
		return "too-costly"
	case errs.Unsupported, errs.NotAcceptable, errs.MethodNotAllowed:
		return "not-supported"
	case errs.Forbidden:
		return "forbidden"
	case errs.Unauthorized:
		return "login"
	case errs.RateLimited:
		return "throttled"
	case errs.Unavailable:
		return "transient"
	default:
		return "exception"
	}
}

type outcomeJSON struct {
	ResourceType string      `json:"resourceType"`
	Issue        []issueJSON `json:"issue"`
}

type issueJSON struct {
	Severity    string    `json:"severity"`
	Code        string    `json:"code"`
	Diagnostics string    `json:"diagnostics,omitempty"`
	Expression  []string  `json:"expression,omitempty"`
	Details     *textJSON `json:"details,omitempty"`
}

type textJSON struct {
	Text string `json:"text"`
}

func outcome(issues []Issue) []byte {
	o := outcomeJSON{ResourceType: "OperationOutcome"}
	for _, is := range issues {
		ij := issueJSON{Severity: is.Severity, Code: is.Code, Diagnostics: is.Message}
		if is.Expression != "" {
			ij.Expression = []string{is.Expression}
		}
		o.Issue = append(o.Issue, ij)
	}
	b, _ := json.Marshal(o)
	return b
}

// RenderOutcome is the httpx.ErrorRenderer for /fhir/: the error as an
// OperationOutcome with one issue.
func RenderOutcome(w http.ResponseWriter, r *http.Request, status int, e *errs.Error) {
	msg := e.Message
	if id := httpx.RequestID(r.Context()); id != "" && status >= 500 {
		msg += " (request " + id + ")"
	}
	writeResource(w, status, outcome([]Issue{{Severity: "error", Code: issueType(e.Code), Expression: e.Field, Message: msg}}))
}

// writeError answers with err: an *OutcomeError with all its issues,
// anything else through httpx.WriteError.
func (a *API) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var oe *OutcomeError
	if !errors.As(err, &oe) {
		httpx.WriteError(w, r, err)
		return
	}
	status := errs.HTTPStatus(oe.Code)
	a.log.LogAttrs(r.Context(), slog.LevelDebug, "fhir: rejected", slog.String("request_id", httpx.RequestID(r.Context())),
		slog.Int("status", status), slog.Int("issues", len(oe.Issues)), slog.String("first", oe.Error()))
	writeResource(w, status, outcome(oe.Issues))
}

// writeResource writes a FHIR JSON body.
func writeResource(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

const contentType = "application/fhir+json; charset=utf-8"
