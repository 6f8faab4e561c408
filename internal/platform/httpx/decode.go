package httpx

import (
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"

	"github.com/careloop/careloop/internal/platform/errs"
)

// DecodeJSON decodes the request body, which must be a single JSON value,
// into v (a non-nil pointer). Unknown object fields are rejected. It returns
// nil or an *errs.Error with a message clients can act on:
//
//   - errs.Unsupported unless Content-Type is application/json or
//     application/<something>+json (such as application/fhir+json), with no
//     charset other than UTF-8;
//   - errs.TooLarge when the body exceeds the chain's limit (or
//     DefaultMaxBodyBytes if r did not pass through Handler);
//   - errs.Invalid for an empty body, malformed JSON (with the byte offset),
//     a value of the wrong type (Field set), an unknown field (Field set) or
//     trailing data after the value.
//
// w is used only to let net/http close the connection after an oversized
// body. Pass the result to WriteError.
func DecodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	if err := checkJSONContentType(r.Header.Get("Content-Type")); err != nil {
		return err
	}
	body := r.Body
	if body == nil {
		body = http.NoBody
	}
	if exchangeOf(r) == nil {
		body = http.MaxBytesReader(w, body, DefaultMaxBodyBytes)
	}
	rec := &readRecorder{r: body}
	dec := json.NewDecoder(rec)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err, rec.err)
	}
	// Anything but white space after the value is an error.
	var extra json.RawMessage
	switch err := dec.Decode(&extra); {
	case errors.Is(err, io.EOF):
		return nil
	case err == nil:
		return errs.Invalidf("", "The request body must contain a single JSON value; found more data at offset %d.", dec.InputOffset()-int64(len(extra)))
	default:
		return decodeError(err, rec.err)
	}
}

// readRecorder remembers the first error other than io.EOF from reading the
// body, so that read failures can be told apart from bad JSON.
type readRecorder struct {
	r   io.Reader
	err error
}

func (rr *readRecorder) Read(p []byte) (int, error) {
	n, err := rr.r.Read(p)
	if err != nil && err != io.EOF && rr.err == nil { // io.Reader returns io.EOF itself, unwrapped
		rr.err = err
	}
	return n, err
}

// checkJSONContentType returns an errs.Unsupported error unless ct names a
// JSON media type.
func checkJSONContentType(ct string) error {
	bad := errs.E(errs.Unsupported, "Content-Type must be application/json.")
	if ct == "" {
		return bad
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return bad
	}
	if mt != "application/json" && !(strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json")) {
		return bad
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return errs.E(errs.Unsupported, "JSON request bodies must be encoded as UTF-8.")
	}
	return nil
}

// maxEchoedName bounds client-supplied field names repeated in messages.
const maxEchoedName = 64

// decodeError turns an encoding/json error into an *errs.Error. readErr is
// the error, if any, from reading the body.
func decodeError(err, readErr error) error {
	var (
		syntax    *json.SyntaxError
		typ       *json.UnmarshalTypeError
		tooLarge  *http.MaxBytesError
		invalidUn *json.InvalidUnmarshalError
	)
	switch {
	case errors.Is(err, io.EOF):
		return errs.Invalidf("", "The request body is empty; a JSON value is required.")
	case errors.As(err, &tooLarge):
		return errs.Wrap(err, errs.TooLarge, fmt.Sprintf("The request body is larger than the limit of %d bytes.", tooLarge.Limit))
	case errors.As(err, &syntax):
		return &errs.Error{Code: errs.Invalid, Err: err,
			Message: fmt.Sprintf("The request body is not valid JSON: malformed at byte offset %d.", syntax.Offset)}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &errs.Error{Code: errs.Invalid, Err: err, Message: "The request body is not valid JSON: it ends unexpectedly."}
	case errors.As(err, &typ):
		field := typ.Field
		if len(field) > maxEchoedName {
			field = field[:maxEchoedName]
		}
		msg := fmt.Sprintf("The value at byte offset %d must be %s.", typ.Offset, jsonKind(typ.Type))
		if field != "" {
			msg = fmt.Sprintf("Field %q must be %s.", field, jsonKind(typ.Type))
		}
		return &errs.Error{Code: errs.Invalid, Field: field, Err: err, Message: msg}
	case errors.As(err, &invalidUn):
		return errs.Wrap(err, errs.Internal, "") // the caller passed a non-pointer
	case readErr != nil:
		// The client went away or the connection broke mid-body.
		return errs.Wrap(err, errs.Invalid, "The request body could not be read.")
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		if unq, uerr := strconv.Unquote(name); uerr == nil {
			name = unq
		}
		if len(name) > maxEchoedName {
			name = name[:maxEchoedName]
		}
		return &errs.Error{Code: errs.Invalid, Field: name, Err: err, Message: fmt.Sprintf("Unknown field %q.", name)}
	}
	// Anything else comes from a type's own UnmarshalJSON or UnmarshalText,
	// such as a malformed time.
	return errs.Wrap(err, errs.Invalid, "The request body contains an invalid value.")
}

// jsonKind describes, for clients, the JSON value a Go type expects.
func jsonKind(t reflect.Type) string {
	if t == nil {
		return "a different type"
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(reflect.TypeFor[encoding.TextUnmarshaler]()) {
		return "a string"
	}
	switch t.Kind() {
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	default:
		return "a different type"
	}
}
