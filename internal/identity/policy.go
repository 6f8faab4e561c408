package identity

import (
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/trustelem/zxcvbn"
	"github.com/trustelem/zxcvbn/match"

	"github.com/careloop/careloop/internal/platform/errs"
)

// The length limits of a password, counted in Unicode code points (runes),
// so that "naïve" and "наивный" count as many characters as a person sees.
const (
	// MinPasswordRunes is the shortest password careloop accepts.
	MinPasswordRunes = 8
	// MaxPasswordRunes is the longest password careloop accepts: far more
	// than any passphrase needs (at least 64 must be allowed), and a bound
	// on the work argon2 and the strength estimate do per attempt.
	MaxPasswordRunes = 256
	// MinPasswordScore is the zxcvbn score (0 to 4) a password must reach:
	// 3 means about 10^8 guesses or more, safe against online guessing and
	// slow offline guessing of an argon2id hash.
	MinPasswordScore = 3
)

// strengthRunes bounds the part of a password the strength estimate reads:
// its cost grows faster than linearly with length (tens of milliseconds for
// 100 runes, several times that for 256). A password whose first 100 runes
// are guessable is refused even if the rest is not; nobody needs such a
// password, and the message says which pattern to avoid.
const strengthRunes = 100

// contextWords are guessable in every careloop password: the product's own
// name. Callers add the organisation's name through the user inputs.
var contextWords = []string{"careloop"}

// CheckPassword reports whether password may be chosen as a new password.
// It returns nil when it may and otherwise an errs.Invalid on the field
// "password" whose message says what is wrong and how to do better.
//
// The rules are those of OWASP ASVS and NIST SP 800-63B: from
// MinPasswordRunes to MaxPasswordRunes characters counted as runes, any
// characters (spaces and emoji included), no composition rules, and no
// password that is common or guessable. Guessability is estimated with
// zxcvbn, which knows common passwords, words, names, keyboard patterns,
// sequences, repeats and dates; userInputs (the email address, the name, the
// organisation) are added to its dictionaries, split into their words, so a
// password built from them is refused. A password is never refused for its
// age: careloop does not force rotation.
func CheckPassword(password string, userInputs ...string) error {
	if !utf8.ValidString(password) {
		return errs.Invalidf("password", "The password contains bytes that are not text; type it again.")
	}
	n := utf8.RuneCountInString(password)
	if n < MinPasswordRunes {
		return errs.Invalidf("password", "A password needs at least %d characters; this one has %d. A passphrase of a few unrelated words is long and easy to remember.", MinPasswordRunes, n)
	}
	if n > MaxPasswordRunes {
		return errs.Invalidf("password", "A password can have at most %d characters; this one has %d.", MaxPasswordRunes, n)
	}
	if strings.TrimSpace(password) == "" {
		return errs.Invalidf("password", "A password cannot be only spaces.")
	}
	scored := password
	if n > strengthRunes {
		scored = string([]rune(password)[:strengthRunes])
	}
	words := guessableWords(userInputs)
	res := zxcvbn.PasswordStrength(scored, words)
	if res.Score < MinPasswordScore {
		return errs.Invalidf("password", "This password is too easy to guess: %s %s", weakness(res.Sequence, utf8.RuneCountInString(scored)), passwordAdvice)
	}
	// zxcvbn gives any password of three or more parts at least 10^8
	// guesses, so one made only of the user's own words (name, email,
	// organisation) scores 3. ASVS wants such context words kept out: the
	// rest of the password must be strong without them.
	if rest, found := withoutWords(scored, words); found && zxcvbn.PasswordStrength(rest, words).Score < MinPasswordScore {
		return errs.Invalidf("password", "This password is too easy to guess: %s %s", userInputsWeakness, passwordAdvice)
	}
	return nil
}

const (
	passwordAdvice     = "Try a longer passphrase of several unrelated words; length helps more than symbols."
	userInputsWeakness = "it contains your name, your email address or the name of the service."
)

// withoutWords returns password, lower case, with every occurrence of the
// words of four or more runes removed, longest first, and whether any was.
func withoutWords(password string, words []string) (string, bool) {
	long := make([]string, 0, len(words))
	for _, w := range words {
		if utf8.RuneCountInString(w) >= 4 {
			long = append(long, w)
		}
	}
	slices.SortFunc(long, func(a, b string) int { return len(b) - len(a) })
	rest := strings.ToLower(password)
	found := false
	for _, w := range long {
		if strings.Contains(rest, w) {
			found = true
			rest = strings.ReplaceAll(rest, w, "")
		}
	}
	return rest, found
}

// guessableWords returns the user inputs, lower case, each whole and split
// into its words and with its words run together ("ana.silva@clinic.example"
// gives "ana.silva", "ana", "silva", "clinic", "example" and "anasilva"
// too), with careloop's context words.
func guessableWords(inputs []string) []string {
	out := append([]string(nil), contextWords...)
	seen := make(map[string]bool)
	add := func(w string) {
		if utf8.RuneCountInString(w) >= 3 && !seen[w] {
			seen[w] = true
			out = append(out, w)
		}
	}
	for _, in := range inputs {
		in = strings.ToLower(strings.TrimSpace(in))
		add(in)
		if local, _, ok := strings.Cut(in, "@"); ok {
			add(local)
		}
		words := strings.FieldsFunc(in, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
		for _, w := range words {
			add(w)
		}
		// "Ana Silva" and "ana.silva@…" are also typed as "anasilva".
		if local, _, ok := strings.Cut(in, "@"); ok {
			add(strings.Join(strings.FieldsFunc(local, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }), ""))
		} else {
			add(strings.Join(words, ""))
		}
	}
	return out
}

// weakness explains in one sentence the most telling pattern zxcvbn found
// in a password of n runes.
func weakness(seq []*match.Match, n int) string {
	var worst *match.Match
	for _, m := range seq {
		if m.Pattern == "dictionary" && m.DictionaryName == "user_inputs" {
			worst = m
			break
		}
		if m.Pattern != "bruteforce" && (worst == nil || utf8.RuneCountInString(m.Token) > utf8.RuneCountInString(worst.Token)) {
			worst = m
		}
	}
	if worst == nil {
		return "it is too short to resist guessing; add a few more words or characters."
	}
	whole := utf8.RuneCountInString(worst.Token) == n
	switch worst.Pattern {
	case "dictionary":
		var s string
		switch worst.DictionaryName {
		case "user_inputs":
			s = userInputsWeakness
		case "passwords":
			if whole && !worst.L33t && !worst.Reversed {
				s = "it is one of the most common passwords."
			} else {
				s = "it is built on a commonly used password."
			}
		case "female_names", "male_names", "surnames":
			s = "names and surnames are among the first things guessed."
		default:
			if whole {
				s = "a single common word is easy to guess."
			} else {
				s = "it is built on a common word with few changes."
			}
		}
		if worst.L33t {
			s += " Swapping letters for look-alike symbols (@ for a, 0 for o) does not help much."
		} else if worst.Reversed {
			s += " Spelling words backwards does not help much."
		}
		return s
	case "spatial":
		return "keyboard patterns like qwerty or 1qaz2wsx are easy to guess."
	case "repeat":
		return "repeated characters or words like aaa or abcabc are easy to guess."
	case "sequence":
		return "sequences like abcd or 4321 are easy to guess."
	case "regex", "date":
		return "dates and years are easy to guess."
	}
	return "it follows a pattern that is easy to guess."
}

// NeedsRehash reports whether hash should be replaced by a new hash of the
// same password made with DefaultPasswordParams: it is not an argon2id hash
// this package can read, or any of its cost parameters (memory, passes,
// lanes, key length) is below the defaults. Sign-in calls it after a
// successful VerifyPassword, while it still has the password in hand.
func NeedsRehash(hash string) bool {
	p, keyLen, err := parseHashParams(hash)
	if err != nil {
		return true
	}
	d := DefaultPasswordParams
	return p.MemoryKiB < d.MemoryKiB || p.Time < d.Time || p.Threads < d.Threads || keyLen < d.KeyLen
}

// parseHashParams reads the cost parameters and key length of a PHC argon2id
// string without verifying anything.
func parseHashParams(hash string) (PasswordParams, uint32, error) {
	var p PasswordParams
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" || parts[2] != "v=19" {
		return p, 0, fmt.Errorf("identity: not an argon2id v19 hash")
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.MemoryKiB, &p.Time, &p.Threads); err != nil {
		return p, 0, fmt.Errorf("identity: argon2 parameters: %w", err)
	}
	// Raw (unpadded) base64: 4 characters carry 3 bytes.
	keyLen := uint32(len(parts[5]) * 3 / 4)
	return p, keyLen, nil
}
