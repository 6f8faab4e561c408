// Package errs defines careloop's application errors.
//
// An [Error] carries three things: a [Code] that says what kind of failure it
// is, a Message that is safe to show to the client, and the wrapped internal
// cause, which is logged but never shown. Code that fails wraps the cause with
// context as usual (fmt.Errorf("journey: advance %s: %w", id, err)); the
// outermost *Error found by [errors.As] decides what the client sees.
//
// [HTTPStatus] is the one place where codes map to HTTP statuses. Anything
// that is not an *Error is an [Internal] error, and clients see only
// "Internal error." for it.
package errs

import (
	"context"
	"errors"
	"fmt"
	"net/http"
)

// Code classifies an error. Its value is stable and machine-readable: it is
// part of the JSON error body clients receive.
type Code string

// The codes careloop uses. Each maps to exactly one HTTP status through
// [HTTPStatus].
const (
	Invalid            Code = "invalid"                // the input is malformed or fails validation (400)
	Unauthorized       Code = "unauthorized"           // the caller is not authenticated (401)
	Forbidden          Code = "forbidden"              // the caller may not do this (403)
	NotFound           Code = "not_found"              // the thing does not exist or is not visible (404)
	MethodNotAllowed   Code = "method_not_allowed"     // the resource exists but not for this method (405)
	NotAcceptable      Code = "not_acceptable"         // no representation matches the Accept header (406)
	Conflict           Code = "conflict"               // the request conflicts with the current state (409)
	Gone               Code = "gone"                   // the thing existed and was deleted (410)
	PreconditionFailed Code = "precondition_failed"    // an If-Match or similar precondition failed (412)
	TooLarge           Code = "too_large"              // the request body or input is too large (413)
	Unsupported        Code = "unsupported_media_type" // the request body has an unsupported media type (415)
	Unprocessable      Code = "unprocessable"          // well-formed input that breaks the rules of its content (422)
	RateLimited        Code = "rate_limited"           // the caller sent too many requests (429)
	Internal           Code = "internal"               // an unexpected failure; details are never shown (500)
	Unavailable        Code = "unavailable"            // a dependency is down, or the request was cancelled or timed out (503)
)

// internalMessage is what clients see for internal and unknown errors.
const internalMessage = "Internal error."

// Error is an application error. The zero value is not useful; build one with
// [E], [Wrap] or a helper such as [Invalidf].
//
// Message and Field are shown to clients; Err is the internal cause and is
// only ever logged. A nil *Error must not be used as an error value.
type Error struct {
	// Code classifies the error. An empty Code is treated as Internal.
	Code Code
	// Message is a complete sentence safe to show to the client. It must not
	// contain health data, secrets or internal details.
	Message string
	// Field optionally names the input field at fault, for example "birthDate".
	Field string
	// Err is the internal cause, or nil. It is logged, never shown.
	Err error
}

// Error returns a description for logs: the code, the field, the safe message
// and the internal cause. It is not safe to show to clients; use [MessageOf].
func (e *Error) Error() string {
	code := e.Code
	if code == "" {
		code = Internal
	}
	s := string(code)
	if e.Field != "" {
		s += " (field " + e.Field + ")"
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the internal cause, so that [errors.Is] and [errors.As] see
// through an *Error.
func (e *Error) Unwrap() error { return e.Err }

// E returns an *Error with the given code and safe message and no cause.
func E(code Code, msg string) *Error {
	return &Error{Code: code, Message: msg}
}

// Errorf returns an *Error with the given code and a safe message formatted
// with [fmt.Sprintf]. The arguments become part of what clients see; %w is not
// interpreted (use [Wrap] to keep a cause).
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Wrap returns an *Error with the given code and safe message whose internal
// cause is err. If err is nil the result has no cause, like [E].
func Wrap(err error, code Code, msg string) *Error {
	return &Error{Code: code, Message: msg, Err: err}
}

// Invalidf returns an [Invalid] error about the named input field, with a safe
// message formatted with [fmt.Sprintf]. field may be empty.
func Invalidf(field, format string, args ...any) *Error {
	return &Error{Code: Invalid, Field: field, Message: fmt.Sprintf(format, args...)}
}

// NotFoundf returns a [NotFound] error with a safe message formatted with
// [fmt.Sprintf].
func NotFoundf(format string, args ...any) *Error {
	return Errorf(NotFound, format, args...)
}

// Conflictf returns a [Conflict] error with a safe message formatted with
// [fmt.Sprintf].
func Conflictf(format string, args ...any) *Error {
	return Errorf(Conflict, format, args...)
}

// Forbiddenf returns a [Forbidden] error with a safe message formatted with
// [fmt.Sprintf].
func Forbiddenf(format string, args ...any) *Error {
	return Errorf(Forbidden, format, args...)
}

// Internalf returns an [Internal] error whose cause is built with
// [fmt.Errorf] (so %w wraps). Clients see only "Internal error."; the
// formatted text is for the logs.
func Internalf(format string, args ...any) *Error {
	return &Error{Code: Internal, Err: fmt.Errorf(format, args...)}
}

// CodeOf returns the code of the first *Error in err's chain (as found by
// [errors.As]). Without one, it returns [Unavailable] if err is or wraps
// [context.Canceled] or [context.DeadlineExceeded], and [Internal] otherwise.
// CodeOf(nil) returns the empty code.
func CodeOf(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) && e != nil {
		if e.Code == "" {
			return Internal
		}
		return e.Code
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return Unavailable
	}
	return Internal
}

// MessageOf returns the message that is safe to show to the client for err:
// the Message of the first *Error in the chain, or a generic sentence for its
// code when that Message is empty. For [Internal] and unknown errors it always
// returns "Internal error.", whatever the error says. MessageOf(nil) returns
// the empty string.
func MessageOf(err error) string {
	if err == nil {
		return ""
	}
	code := CodeOf(err)
	if code == Internal {
		return internalMessage
	}
	var e *Error
	if errors.As(err, &e) && e != nil && e.Message != "" {
		return e.Message
	}
	return defaultMessage(code)
}

// FieldOf returns the Field of the first *Error in err's chain, or the empty
// string. It returns the empty string for [Internal] errors.
func FieldOf(err error) string {
	var e *Error
	if errors.As(err, &e) && e != nil && CodeOf(err) != Internal {
		return e.Field
	}
	return ""
}

// Safe returns a new *Error holding only what may be shown to the client for
// err: its code, safe message and field, with no cause. Safe(nil) returns an
// [Internal] error, because a caller that asks for an error body without an
// error has a bug.
func Safe(err error) *Error {
	if err == nil {
		return &Error{Code: Internal, Message: internalMessage}
	}
	return &Error{Code: CodeOf(err), Message: MessageOf(err), Field: FieldOf(err)}
}

// HTTPStatus returns the HTTP status for code. It is the only place where
// codes map to statuses. Unknown and empty codes map to 500.
func HTTPStatus(code Code) int {
	switch code {
	case Invalid:
		return http.StatusBadRequest
	case Unauthorized:
		return http.StatusUnauthorized
	case Forbidden:
		return http.StatusForbidden
	case NotFound:
		return http.StatusNotFound
	case MethodNotAllowed:
		return http.StatusMethodNotAllowed
	case NotAcceptable:
		return http.StatusNotAcceptable
	case Conflict:
		return http.StatusConflict
	case PreconditionFailed:
		return http.StatusPreconditionFailed
	case Gone:
		return http.StatusGone
	case Unprocessable:
		return http.StatusUnprocessableEntity
	case TooLarge:
		return http.StatusRequestEntityTooLarge
	case Unsupported:
		return http.StatusUnsupportedMediaType
	case RateLimited:
		return http.StatusTooManyRequests
	case Unavailable:
		return http.StatusServiceUnavailable
	default:
		return http.StatusInternalServerError
	}
}

// defaultMessage returns the generic safe sentence for code, used when an
// *Error has no Message.
func defaultMessage(code Code) string {
	switch code {
	case Invalid:
		return "The request is invalid."
	case Unauthorized:
		return "Authentication is required."
	case Forbidden:
		return "You do not have permission to do this."
	case NotFound:
		return "Not found."
	case MethodNotAllowed:
		return "Method not allowed."
	case NotAcceptable:
		return "None of the requested representations is available."
	case Conflict:
		return "The request conflicts with the current state."
	case PreconditionFailed:
		return "A precondition of the request failed."
	case Gone:
		return "This was deleted."
	case Unprocessable:
		return "The content breaks the rules of its kind."
	case TooLarge:
		return "The request is too large."
	case Unsupported:
		return "The request body has an unsupported media type."
	case RateLimited:
		return "Too many requests. Please try again later."
	case Unavailable:
		return "The service is temporarily unavailable. Please try again."
	default:
		return internalMessage
	}
}
