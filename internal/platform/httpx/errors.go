package httpx

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/careloop/careloop/internal/platform/errs"
)

// ErrorRenderer writes an error response: it sets Content-Type, calls
// w.WriteHeader(status) and writes the body. e holds only what is safe to show
// (code, message, field); its Err is always nil. The request id is
// RequestID(r.Context()). Renderers are chosen by URL path prefix through
// Options.ErrorRenderers.
type ErrorRenderer func(w http.ResponseWriter, r *http.Request, status int, e *errs.Error)

// errorBody is the JSON error document written by RenderJSONError.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code      errs.Code `json:"code"`
	Message   string    `json:"message"`
	Field     string    `json:"field,omitempty"`
	RequestID string    `json:"request_id,omitempty"`
}

// RenderJSONError is the default ErrorRenderer. It writes
//
//	{"error":{"code":"not_found","message":"Not found.","field":"...","request_id":"..."}}
//
// with Content-Type: application/json; field and request_id are omitted when
// empty.
func RenderJSONError(w http.ResponseWriter, r *http.Request, status int, e *errs.Error) {
	body := errorBody{Error: errorDetail{Code: e.Code, Message: e.Message, Field: e.Field, RequestID: RequestID(r.Context())}}
	b, err := json.Marshal(body)
	if err != nil { // cannot happen with these field types
		b = []byte(`{"error":{"code":"internal","message":"Internal error."}}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// WriteError answers the request with err. It is the one place where errors
// become responses:
//
//   - the status is errs.HTTPStatus(errs.CodeOf(err)), except that an
//     [*http.MaxBytesError] not wrapped in an errs.Error counts as
//     errs.TooLarge (413);
//   - the body shows only errs.MessageOf and errs.FieldOf, rendered by the
//     ErrorRenderer chosen for the path (JSON by default);
//   - err itself, with its internal cause, is logged with the request id:
//     at Error for 5xx, Warn for 401, 403 and 429, Debug for other 4xx.
//
// If the response has already started, WriteError only logs. r should have
// passed through Handler; otherwise the error is rendered as JSON and logged
// to slog.Default().
func WriteError(w http.ResponseWriter, r *http.Request, err error) {
	err = classify(err)
	safe := errs.Safe(err)
	status := errs.HTTPStatus(safe.Code)

	ex := exchangeOf(r)
	log := slog.Default()
	id := ""
	if ex != nil {
		log, id = ex.chain.log, ex.id
	}
	level := slog.LevelDebug
	switch {
	case status >= 500:
		level = slog.LevelError
	case status == http.StatusUnauthorized || status == http.StatusForbidden || status == http.StatusTooManyRequests:
		level = slog.LevelWarn
	}
	cause := "<nil>"
	if err != nil {
		cause = err.Error()
	}
	log.LogAttrs(r.Context(), level, "http error",
		slog.String("request_id", id),
		slog.String("method", r.Method),
		slog.String("path", truncate(r.URL.Path)),
		slog.Int("status", status),
		slog.String("code", string(safe.Code)),
		slog.String("error", cause))

	if ex != nil && ex.wroteHeader {
		log.LogAttrs(r.Context(), slog.LevelWarn, "http error after the response started; not sent",
			slog.String("request_id", id))
		return
	}
	renderError(w, r, status, safe)
}

// renderError writes the error body for safe with the renderer chosen for r,
// without logging.
func renderError(w http.ResponseWriter, r *http.Request, status int, safe *errs.Error) {
	render := ErrorRenderer(RenderJSONError)
	if ex := exchangeOf(r); ex != nil {
		prev := ex.rendering
		ex.rendering = true
		defer func() { ex.rendering = prev }()
		for _, pr := range ex.chain.renderers {
			if strings.HasPrefix(r.URL.Path, pr.prefix) {
				render = pr.render
				break
			}
		}
	}
	h := w.Header()
	// Headers describing some other body must not describe the error.
	h.Del("Content-Length")
	h.Del("Etag")
	h.Del("Last-Modified")
	h.Set("Cache-Control", "no-store")
	render(w, r, status, safe)
}

// classify gives a code to errors from the standard library that the chain
// itself causes, when no errs.Error says otherwise.
func classify(err error) error {
	var tooLarge *http.MaxBytesError
	var e *errs.Error
	if !errors.As(err, &e) && errors.As(err, &tooLarge) {
		return errs.Wrap(err, errs.TooLarge, fmt.Sprintf("The request body is larger than the limit of %d bytes.", tooLarge.Limit))
	}
	return err
}

// WriteJSON writes v as JSON with the given status and Content-Type:
// application/json. It encodes v before writing anything, so when it returns
// an encoding error nothing has been sent and the caller can still call
// WriteError. Errors writing to the client are returned too, and usually
// mean the client went away.
func WriteJSON(w http.ResponseWriter, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("httpx: encode JSON response: %w", err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, err = w.Write(append(b, '\n'))
	return err
}
