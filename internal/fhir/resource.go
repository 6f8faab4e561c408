package fhir

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"github.com/careloop/careloop/internal/platform/errs"
)

// NewID returns a new random resource id: a UUID in canonical form.
func NewID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// member is one top-level member of a JSON object, kept as raw bytes.
type member struct {
	key   string
	value json.RawMessage
}

// splitObject returns the top-level members of a JSON object in order.
func splitObject(raw []byte) ([]member, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, jsonError(raw, dec, err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, errs.Invalidf("", "a resource must be a JSON object")
	}
	var out []member
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, jsonError(raw, dec, err)
		}
		key, _ := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, jsonError(raw, dec, err)
		}
		out = append(out, member{key, v})
	}
	if _, err := dec.Token(); err != nil {
		return nil, jsonError(raw, dec, err)
	}
	if _, err := dec.Token(); err == nil {
		return nil, errs.Invalidf("", "unexpected data after the JSON object at byte %d", dec.InputOffset())
	}
	return out, nil
}

func jsonError(raw []byte, dec *json.Decoder, err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return errs.Invalidf("", "malformed JSON at byte %d: %v", se.Offset, err)
	}
	return errs.Invalidf("", "malformed JSON at byte %d: %v", dec.InputOffset(), err)
}

// stamp returns raw with its id set and meta.versionId and meta.lastUpdated
// set, every other member kept as received and in its order. A missing id or
// meta is added after resourceType.
func stamp(raw []byte, id string, version int64, lastUpdated time.Time) ([]byte, error) {
	members, err := splitObject(raw)
	if err != nil {
		return nil, err
	}
	idJSON, _ := json.Marshal(id)
	meta := map[string]json.RawMessage{}
	metaAt, idAt, typeAt := -1, -1, -1
	for i, m := range members {
		switch m.key {
		case "meta":
			metaAt = i
			if err := json.Unmarshal(m.value, &meta); err != nil || meta == nil {
				return nil, errs.Invalidf("meta", "meta must be a JSON object")
			}
		case "id":
			idAt = i
		case "resourceType":
			typeAt = i
		}
	}
	meta["versionId"] = json.RawMessage(strconv.Quote(strconv.FormatInt(version, 10)))
	meta["lastUpdated"] = json.RawMessage(`"` + lastUpdated.UTC().Format("2006-01-02T15:04:05.000Z07:00") + `"`)
	metaJSON, err := json.Marshal(meta)
	if err != nil {
		return nil, errs.Invalidf("meta", "meta: %v", err)
	}
	if idAt >= 0 {
		members[idAt].value = idJSON
	}
	if metaAt >= 0 {
		members[metaAt].value = metaJSON
	}
	var b bytes.Buffer
	b.Grow(len(raw) + 96)
	b.WriteByte('{')
	first := true
	write := func(key string, v []byte) {
		if !first {
			b.WriteByte(',')
		}
		first = false
		k, _ := json.Marshal(key)
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	for i, m := range members {
		write(m.key, m.value)
		if i == typeAt && idAt < 0 {
			write("id", idJSON)
			if metaAt < 0 {
				write("meta", metaJSON)
			}
		}
		if i == idAt && metaAt < 0 {
			write("meta", metaJSON)
		}
	}
	if typeAt < 0 {
		return nil, errs.Invalidf("resourceType", "the resource has no resourceType")
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// head reads resourceType and id of a resource.
func head(raw []byte) (resourceType, id string, err error) {
	var h struct {
		ResourceType string `json:"resourceType"`
		ID           string `json:"id"`
	}
	if err := json.Unmarshal(raw, &h); err != nil {
		return "", "", errs.Invalidf("", "malformed JSON: %v", err)
	}
	return h.ResourceType, h.ID, nil
}

// validID reports whether id is a FHIR id.
func validID(id string) bool { return idPattern.MatchString(id) }

func formatInstant(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000Z07:00")
}
