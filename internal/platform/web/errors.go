package web

import (
	"mime"
	"net/http"
	"strings"

	"github.com/careloop/careloop/internal/platform/errs"
	"github.com/careloop/careloop/internal/platform/httpx"
)

// WantsHTML reports whether the client prefers an HTML page to JSON: a
// browser navigating puts text/html first in Accept; API clients and
// scripts do not.
func WantsHTML(r *http.Request) bool {
	accept := r.Header.Get("Accept")
	first, _, _ := strings.Cut(accept, ",")
	mt, _, err := mime.ParseMediaType(strings.TrimSpace(first))
	return err == nil && (mt == "text/html" || mt == "application/xhtml+xml")
}

// errorPage is the data of the error page.
type errorPage struct {
	Status    int
	Message   string
	RequestID string
	NotFound  bool
}

// ErrorRenderer returns an httpx.ErrorRenderer that answers browsers with
// a friendly page in the layout and every other client with fallback
// (httpx.RenderJSONError when nil). The page shows only the safe message
// and the request id, which support can find in the log.
func (r *Renderer) ErrorRenderer(fallback httpx.ErrorRenderer) httpx.ErrorRenderer {
	if fallback == nil {
		fallback = httpx.RenderJSONError
	}
	return func(w http.ResponseWriter, req *http.Request, status int, e *errs.Error) {
		if !WantsHTML(req) || !r.Has("error") {
			fallback(w, req, status, e)
			return
		}
		r.Error(w, req, status, e.Message)
	}
}

// Error writes the error page with status and a message a person can act
// on.
func (r *Renderer) Error(w http.ResponseWriter, req *http.Request, status int, message string) {
	title := "Something went wrong"
	switch status {
	case http.StatusNotFound:
		title = "Page not found"
		message = "There is no page at this address. Check the address, or go back to your account."
	case http.StatusForbidden:
		title = "Not allowed"
	case http.StatusTooManyRequests:
		title = "Please wait"
	}
	if message == "" || status >= 500 {
		message = "Something went wrong on our side. Please try again in a moment."
	}
	r.Page(w, req, status, "error", Data{Title: title, Body: errorPage{Status: status, Message: message,
		RequestID: httpx.RequestID(req.Context()), NotFound: status == http.StatusNotFound}})
}
