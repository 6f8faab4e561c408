package web

import "github.com/careloop/careloop/internal/platform/errs"

// FieldError is the problem with one form field. Field is the id of the
// input it concerns (the error summary links to it); empty for a problem
// with the form as a whole.
type FieldError struct {
	Field, Message string
}

// FormErrors are the problems with a submitted form, in the order of the
// fields on the page. The zero value has none.
type FormErrors struct {
	List []FieldError
}

// Add records a problem with field ("" for the whole form).
func (e *FormErrors) Add(field, message string) { e.List = append(e.List, FieldError{field, message}) }

// Any reports whether there is a problem; it is false for a nil receiver.
func (e *FormErrors) Any() bool { return e != nil && len(e.List) > 0 }

// Of returns the message for field, or "" when it has none.
func (e *FormErrors) Of(field string) string {
	if e == nil {
		return ""
	}
	for _, fe := range e.List {
		if fe.Field == field && field != "" {
			return fe.Message
		}
	}
	return ""
}

// FromError returns the form errors for err as a service worded it: its
// safe message, on the field the error names or else on field. Internal
// errors say only "Internal error.", as everywhere.
func FromError(err error, field string) *FormErrors {
	safe := errs.Safe(err)
	if safe.Field != "" {
		field = safe.Field
	}
	e := &FormErrors{}
	e.Add(field, safe.Message)
	return e
}
