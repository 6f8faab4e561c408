package errs_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/careloop/careloop/internal/platform/errs"
)

func TestCodeAndMessageThroughWraps(t *testing.T) {
	secret := errors.New("pq: password authentication failed for user careloop at 10.1.2.3")
	tests := []struct {
		name      string
		err       error
		wantCode  errs.Code
		wantMsg   string
		wantField string
	}{
		{"nil", nil, "", "", ""},
		{"bare E", errs.E(errs.NotFound, "Patient not found."), errs.NotFound, "Patient not found.", ""},
		{"wrapped once", fmt.Errorf("journey: advance 42: %w", errs.E(errs.Conflict, "Already booked.")), errs.Conflict, "Already booked.", ""},
		{"wrapped three times", fmt.Errorf("a: %w", fmt.Errorf("b: %w", fmt.Errorf("c: %w", errs.E(errs.Forbidden, "No access.")))), errs.Forbidden, "No access.", ""},
		{"joined", errors.Join(io.EOF, errs.E(errs.RateLimited, "Slow down.")), errs.RateLimited, "Slow down.", ""},
		{"invalid with field", fmt.Errorf("decode: %w", errs.Invalidf("birthDate", "Birth date %q is not a date.", "31-02")), errs.Invalid, `Birth date "31-02" is not a date.`, "birthDate"},
		{"outermost Error wins", errs.Wrap(errs.E(errs.NotFound, "inner"), errs.Unavailable, "Outer."), errs.Unavailable, "Outer.", ""},
		{"empty message gets default", errs.E(errs.NotFound, ""), errs.NotFound, "Not found.", ""},
		{"empty code is internal", &errs.Error{Message: "should not show"}, errs.Internal, "Internal error.", ""},
		{"plain error is internal", secret, errs.Internal, "Internal error.", ""},
		{"wrapped plain error is internal", fmt.Errorf("store: get: %w", secret), errs.Internal, "Internal error.", ""},
		{"internal with message hides it", errs.Wrap(secret, errs.Internal, "Database password wrong"), errs.Internal, "Internal error.", ""},
		{"internal hides field", &errs.Error{Code: errs.Internal, Field: "password", Err: secret}, errs.Internal, "Internal error.", ""},
		{"Internalf", errs.Internalf("store: %w", secret), errs.Internal, "Internal error.", ""},
		{"canceled", context.Canceled, errs.Unavailable, "The service is temporarily unavailable. Please try again.", ""},
		{"deadline wrapped", fmt.Errorf("query: %w", context.DeadlineExceeded), errs.Unavailable, "The service is temporarily unavailable. Please try again.", ""},
		{"explicit code beats context", errs.Wrap(context.Canceled, errs.Invalid, "Bad."), errs.Invalid, "Bad.", ""},
		{"wrap with nil cause", errs.Wrap(nil, errs.TooLarge, "Too big."), errs.TooLarge, "Too big.", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := errs.CodeOf(tt.err); got != tt.wantCode {
				t.Errorf("CodeOf = %q, want %q", got, tt.wantCode)
			}
			if got := errs.MessageOf(tt.err); got != tt.wantMsg {
				t.Errorf("MessageOf = %q, want %q", got, tt.wantMsg)
			}
			if got := errs.FieldOf(tt.err); got != tt.wantField {
				t.Errorf("FieldOf = %q, want %q", got, tt.wantField)
			}
			if tt.err == nil {
				return
			}
			safe := errs.Safe(tt.err)
			if safe.Code != tt.wantCode || safe.Message != tt.wantMsg || safe.Field != tt.wantField || safe.Err != nil {
				t.Errorf("Safe = %+v, want code %q message %q field %q and no cause", safe, tt.wantCode, tt.wantMsg, tt.wantField)
			}
		})
	}
}

func TestInternalDetailNeverLeaks(t *testing.T) {
	const detail = "SELECT * FROM patient WHERE ssn='123-45-6789'"
	cause := errors.New(detail)
	for _, err := range []error{
		cause,
		fmt.Errorf("x: %w", cause),
		errs.Wrap(cause, errs.NotFound, "Patient not found."),
		errs.Wrap(cause, errs.Internal, detail),
		errs.Internalf("query %q: %w", detail, cause),
		fmt.Errorf("outer: %w", errs.Wrap(cause, errs.Conflict, "")),
	} {
		if msg := errs.MessageOf(err); strings.Contains(msg, "SELECT") || strings.Contains(msg, "6789") {
			t.Errorf("MessageOf(%v) = %q leaks the internal cause", err, msg)
		}
		if safe := errs.Safe(err); strings.Contains(safe.Message, "6789") || safe.Err != nil {
			t.Errorf("Safe(%v) = %+v leaks the internal cause", err, safe)
		}
		// The log form keeps the cause, so that operators can diagnose.
		if !strings.Contains(err.Error(), "6789") {
			t.Errorf("Error() = %q lost the cause needed in logs", err.Error())
		}
	}
}

func TestErrorStringAndUnwrap(t *testing.T) {
	cause := io.ErrUnexpectedEOF
	e := &errs.Error{Code: errs.Invalid, Field: "name", Message: "Name is required.", Err: cause}
	if got, want := e.Error(), "invalid (field name): Name is required.: unexpected EOF"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if !errors.Is(fmt.Errorf("w: %w", e), io.ErrUnexpectedEOF) {
		t.Error("errors.Is does not see the cause through *Error")
	}
	if got := errs.E("", "").Error(); got != "internal" {
		t.Errorf("empty Error() = %q, want %q", got, "internal")
	}
}

func TestHTTPStatus(t *testing.T) {
	tests := []struct {
		code errs.Code
		want int
	}{
		{errs.Invalid, http.StatusBadRequest},
		{errs.Unauthorized, http.StatusUnauthorized},
		{errs.Forbidden, http.StatusForbidden},
		{errs.NotFound, http.StatusNotFound},
		{errs.MethodNotAllowed, http.StatusMethodNotAllowed},
		{errs.NotAcceptable, http.StatusNotAcceptable},
		{errs.Conflict, http.StatusConflict},
		{errs.PreconditionFailed, http.StatusPreconditionFailed},
		{errs.Gone, http.StatusGone},
		{errs.Unprocessable, http.StatusUnprocessableEntity},
		{errs.TooLarge, http.StatusRequestEntityTooLarge},
		{errs.Unsupported, http.StatusUnsupportedMediaType},
		{errs.RateLimited, http.StatusTooManyRequests},
		{errs.Internal, http.StatusInternalServerError},
		{errs.Unavailable, http.StatusServiceUnavailable},
		{"", http.StatusInternalServerError},
		{"made_up", http.StatusInternalServerError},
	}
	for _, tt := range tests {
		if got := errs.HTTPStatus(tt.code); got != tt.want {
			t.Errorf("HTTPStatus(%q) = %d, want %d", tt.code, got, tt.want)
		}
		// Every known code has its own safe default message.
		if tt.code != "" && tt.code != "made_up" && tt.code != errs.Internal {
			if msg := errs.MessageOf(errs.E(tt.code, "")); msg == "" || msg == "Internal error." {
				t.Errorf("MessageOf(E(%q, \"\")) = %q, want a code-specific sentence", tt.code, msg)
			}
		}
	}
}

func TestHelpers(t *testing.T) {
	tests := []struct {
		err  *errs.Error
		code errs.Code
		msg  string
	}{
		{errs.NotFoundf("Patient %d not found.", 7), errs.NotFound, "Patient 7 not found."},
		{errs.Conflictf("Version %s is stale.", "3"), errs.Conflict, "Version 3 is stale."},
		{errs.Forbiddenf("No access to %s.", "reports"), errs.Forbidden, "No access to reports."},
		{errs.Errorf(errs.RateLimited, "Wait %ds.", 5), errs.RateLimited, "Wait 5s."},
	}
	for _, tt := range tests {
		if tt.err.Code != tt.code || tt.err.Message != tt.msg || tt.err.Err != nil {
			t.Errorf("got %+v, want code %q message %q", tt.err, tt.code, tt.msg)
		}
	}
}
