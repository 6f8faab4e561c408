package notify

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// TestLinkTokenIsCanonical: a token whose last character differs only in
// the two bits base64 leaves unused is not the token that was made.
func TestLinkTokenIsCanonical(t *testing.T) {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	l := NewLinks([]byte("0123456789abcdef0123456789abcdef"), "https://care.example", 0)
	now := time.Now()
	for i := range 50 {
		id := "01a20cea-a4e7-796b-9fac-72" + strings.Repeat("0", 9) + string("0123456789abcdef"[i%16])
		link := l.Open(id, now)
		token := link[strings.LastIndex(link, "/")+1:]
		if got, err := l.verify(token, purposeOpen, now); err != nil || got != id {
			t.Fatalf("the token made does not verify: %q %v", got, err)
		}
		last := strings.IndexByte(alphabet, token[len(token)-1])
		for bits := 1; bits < 4; bits++ {
			other := token[:len(token)-1] + string(alphabet[last^bits])
			if _, err := l.verify(other, purposeOpen, now); !errors.Is(err, ErrLinkInvalid) {
				t.Fatalf("%s (made %s) was accepted: %v", other, token, err)
			}
		}
	}
}
