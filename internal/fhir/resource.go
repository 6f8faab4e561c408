package fhir

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"slices"
	"strconv"
	"time"

	"github.com/careloop/careloop/internal/platform/errs"
	"github.com/careloop/careloop/internal/platform/jsonx"
)

// NewID returns a new resource id: a version 7 UUID (RFC 9562) in
// canonical form, 48 bits of Unix milliseconds followed by 74 random bits.
// Ids made close in time sort close together, so the B-trees keyed by id
// (resources, history, the search index) grow at their ends instead of
// dirtying a random page per insert: on a database larger than its cache
// that is the difference between appending and reading and rewriting a page
// for every row.
func NewID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	ms := uint64(time.Now().UnixMilli())
	for i := 0; i < 6; i++ {
		b[i] = byte(ms >> (40 - 8*i))
	}
	b[6] = b[6]&0x0f | 0x70
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// splitObject returns the top-level members of a JSON object in order,
// malformed JSON as an invalid request.
func splitObject(raw []byte) ([]jsonx.Member, error) {
	ms, err := jsonx.Members(raw)
	if err != nil {
		return nil, jsonError(err)
	}
	return ms, nil
}

// jsonError describes malformed JSON as an invalid request.
func jsonError(err error) error {
	var se *jsonx.SyntaxError
	if errors.As(err, &se) {
		return errs.Invalidf("", "malformed JSON at byte %d: %v", se.Offset, err)
	}
	return errs.Invalidf("", "malformed JSON: %v", err)
}

// stamp returns raw with its id set and meta.versionId and meta.lastUpdated
// set, every other member kept as received and in its order. A missing id or
// meta is added after resourceType.
func stamp(raw []byte, id string, version int64, lastUpdated time.Time) ([]byte, error) {
	st, err := prepareStamp(raw, id)
	if err != nil {
		return nil, err
	}
	return st.stamp(version, lastUpdated), nil
}

// stampable is a resource with its id set, split where meta.versionId and
// meta.lastUpdated go, so that stamping it is two appends: the parsing is
// done once, before the version and time are known.
type stampable struct {
	head []byte // up to and including `"meta":{`
	tail []byte // the other members of meta, if any, and the rest
}

// prepareStamp parses raw and sets its id. meta.versionId and
// meta.lastUpdated come first in meta, the other members of meta follow
// in the order received (a repeated one once, its last value).
func prepareStamp(raw []byte, id string) (*stampable, error) {
	members, err := splitObject(raw)
	if err != nil {
		return nil, err
	}
	idJSON := jsonx.AppendString(nil, id)
	var meta []jsonx.Member
	metaAt, idAt, typeAt := -1, -1, -1
	for i, m := range members {
		switch m.Key {
		case "meta":
			metaAt = i
			if meta, err = jsonx.Members(m.Value); err != nil {
				return nil, errs.Invalidf("meta", "meta must be a JSON object")
			}
		case "id":
			idAt = i
		case "resourceType":
			typeAt = i
		}
	}
	if typeAt < 0 {
		return nil, errs.Invalidf("resourceType", "the resource has no resourceType")
	}
	var metaRest []byte // `,"k":v…}`
	for k, m := range meta {
		if m.Key == "versionId" || m.Key == "lastUpdated" || slices.ContainsFunc(meta[k+1:], func(later jsonx.Member) bool { return later.Key == m.Key }) {
			continue
		}
		metaRest = append(metaRest, ',')
		metaRest = jsonx.AppendString(metaRest, m.Key)
		metaRest = append(append(metaRest, ':'), m.Value...)
	}
	metaRest = append(metaRest, '}')
	if idAt >= 0 {
		members[idAt].Value = idJSON
	}
	b := make([]byte, 0, len(raw)+96)
	b = append(b, '{')
	var st stampable
	first := true
	key := func(k string) {
		if !first {
			b = append(b, ',')
		}
		first = false
		b = append(jsonx.AppendString(b, k), ':')
	}
	writeMeta := func() {
		key("meta")
		st.head = append(b, '{')
		b = append(make([]byte, 0, max(len(raw)-len(st.head), 0)+len(metaRest)+96), metaRest...)
	}
	for i, m := range members {
		if i == metaAt {
			writeMeta()
		} else {
			key(m.Key)
			b = append(b, m.Value...)
		}
		if i == typeAt && idAt < 0 {
			key("id")
			b = append(b, idJSON...)
			if metaAt < 0 {
				writeMeta()
			}
		}
		if i == idAt && metaAt < 0 {
			writeMeta()
		}
	}
	b = append(b, '}')
	st.tail = b
	return &st, nil
}

// stamp returns the resource with meta.versionId and meta.lastUpdated.
func (s *stampable) stamp(version int64, lastUpdated time.Time) []byte {
	out := make([]byte, 0, len(s.head)+len(s.tail)+64)
	out = append(out, s.head...)
	out = append(out, `"versionId":"`...)
	out = strconv.AppendInt(out, version, 10)
	out = append(out, `","lastUpdated":"`...)
	out = lastUpdated.UTC().AppendFormat(out, "2006-01-02T15:04:05.000Z07:00")
	out = append(out, '"')
	return append(out, s.tail...)
}

// head reads resourceType and id of a resource, checking that it is a
// well-formed JSON object.
func head(raw []byte) (resourceType, id string, err error) {
	members, err := jsonx.Members(raw)
	if err != nil {
		return "", "", errs.Invalidf("", "malformed JSON: %v", err)
	}
	for _, m := range members {
		var dst *string
		switch m.Key {
		case "resourceType":
			dst = &resourceType
		case "id":
			dst = &id
		default:
			continue
		}
		v, _ := jsonx.Decode(m.Value)
		s, ok := v.(string)
		if !ok && v != nil {
			return "", "", errs.Invalidf(m.Key, "%s must be a string", m.Key)
		}
		*dst = s
	}
	return resourceType, id, nil
}

// validID reports whether id is a FHIR id.
func validID(id string) bool { return idPattern.MatchString(id) }

func formatInstant(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000Z07:00")
}
