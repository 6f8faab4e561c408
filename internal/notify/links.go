package notify

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"time"

	"github.com/google/uuid"
)

// Links signs the links in messages. A link names one message and
// expires: it leads, through sign-in, to the item of that message and to
// nothing else; it never signs anyone in. Tokens are 43 characters of
// base64url: the message's 16-byte id, the expiry (Unix seconds, 4 bytes)
// and 12 bytes of HMAC-SHA-256 under a key derived from careloop's own.
type Links struct {
	key  []byte
	base string        // "https://clinic.example.org"
	ttl  time.Duration // how long a link works
}

// Link purposes: what following a link does.
const (
	purposeOpen        = 'o' // open the message's item
	purposeUnsubscribe = 'u' // stop this kind of message on this channel
)

const tokenLen = 16 + 4 + 12

// ErrLinkExpired and ErrLinkInvalid are what Verify reports.
var (
	ErrLinkExpired = errors.New("notify: the link has expired")
	ErrLinkInvalid = errors.New("notify: the link is not valid")
)

// DefaultLinkTTL is how long links in messages work.
const DefaultLinkTTL = 14 * 24 * time.Hour

// NewLinks returns the signer of links under base (the public URL of
// careloop, without a trailing slash) with key (at least 32 bytes).
func NewLinks(key []byte, base string, ttl time.Duration) *Links {
	if ttl <= 0 {
		ttl = DefaultLinkTTL
	}
	return &Links{key: key, base: base, ttl: ttl}
}

// Open returns the tracked link of a message, valid until now plus the
// links' lifetime.
func (l *Links) Open(messageID string, now time.Time) string {
	return l.base + "/n/" + l.token(messageID, purposeOpen, now.Add(l.ttl))
}

// Unsubscribe returns the link that stops the message's kind of messages
// on its channel.
func (l *Links) Unsubscribe(messageID string, now time.Time) string {
	return l.base + "/n/" + l.token(messageID, purposeUnsubscribe, now.Add(l.ttl)) + "/unsubscribe"
}

func (l *Links) token(messageID string, purpose byte, until time.Time) string {
	id, err := uuid.Parse(messageID)
	if err != nil {
		// Message ids are made by this package; any other value is a bug.
		panic("notify: link to a message id that is not a UUID: " + messageID)
	}
	var b [tokenLen]byte
	copy(b[:16], id[:])
	binary.BigEndian.PutUint32(b[16:20], uint32(until.Unix()))
	copy(b[20:], l.mac(purpose, b[:20]))
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func (l *Links) mac(purpose byte, payload []byte) []byte {
	h := hmac.New(sha256.New, l.key)
	h.Write([]byte{purpose})
	h.Write(payload)
	return h.Sum(nil)[:12]
}

// verify returns the message id of a token made for purpose, or
// ErrLinkInvalid, or ErrLinkExpired (with the id, for a friendlier page).
func (l *Links) verify(token string, purpose byte, now time.Time) (string, error) {
	if len(token) != base64.RawURLEncoding.EncodedLen(tokenLen) {
		return "", ErrLinkInvalid
	}
	// Strict: a token differs from the one made only if its bytes do (the
	// last character carries two unused bits, which must be zero).
	b, err := base64.RawURLEncoding.Strict().DecodeString(token)
	if err != nil || len(b) != tokenLen {
		return "", ErrLinkInvalid
	}
	if !hmac.Equal(b[20:], l.mac(purpose, b[:20])) {
		return "", ErrLinkInvalid
	}
	id := uuid.UUID(b[:16]).String()
	if now.Unix() > int64(binary.BigEndian.Uint32(b[16:20])) {
		return id, ErrLinkExpired
	}
	return id, nil
}
