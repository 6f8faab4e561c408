package sms

import "unicode/utf16"

// The sizes of SMS segments: a single message holds 160 GSM-7 characters
// or 70 UCS-2 code units; a concatenated one gives up room in each
// segment to a header, leaving 153 and 67.
const (
	gsmSingle  = 160
	gsmMulti   = 153
	ucs2Single = 70
	ucs2Multi  = 67
)

// Segments returns how many SMS segments body takes: in the GSM 7-bit
// alphabet when every character is in it (a character of the extension
// table, such as € or {, takes two places), in UCS-2 otherwise (a
// character outside the Basic Multilingual Plane, such as an emoji, takes
// two). A character pair never straddles two segments. An empty body
// takes none.
func Segments(body string) int {
	if body == "" {
		return 0
	}
	widths, gsm := gsmWidths(body)
	if !gsm {
		widths = widths[:0]
		for _, r := range body {
			if utf16.RuneLen(r) == 2 {
				widths = append(widths, 2)
			} else {
				widths = append(widths, 1)
			}
		}
		return pack(widths, ucs2Single, ucs2Multi)
	}
	return pack(widths, gsmSingle, gsmMulti)
}

// pack counts the segments of characters of the given widths: one when
// they fit in single, else as many of multi as they fill, a character
// never split between two.
func pack(widths []int, single, multi int) int {
	total := 0
	for _, w := range widths {
		total += w
	}
	if total <= single {
		return 1
	}
	segments, used := 1, 0
	for _, w := range widths {
		if used+w > multi {
			segments++
			used = 0
		}
		used += w
	}
	return segments
}

// gsmWidths returns the GSM 7-bit width of each character of body (1 in
// the basic table, 2 in the extension table), and false when a character
// is in neither.
func gsmWidths(body string) ([]int, bool) {
	widths := make([]int, 0, len(body))
	for _, r := range body {
		switch {
		case gsmBasic(r):
			widths = append(widths, 1)
		case gsmExtension(r):
			widths = append(widths, 2)
		default:
			return widths, false
		}
	}
	return widths, true
}

// gsmBasic reports whether r is in the GSM 03.38 basic character table.
func gsmBasic(r rune) bool {
	switch {
	case r >= 'A' && r <= 'Z', r >= 'a' && r <= 'z', r >= '0' && r <= '9':
		return true
	}
	switch r {
	case '@', '£', '$', '¥', 'è', 'é', 'ù', 'ì', 'ò', 'Ç', '\n', 'Ø', 'ø', '\r', 'Å', 'å',
		'Δ', '_', 'Φ', 'Γ', 'Λ', 'Ω', 'Π', 'Ψ', 'Σ', 'Θ', 'Ξ', 'Æ', 'æ', 'ß', 'É',
		' ', '!', '"', '#', '¤', '%', '&', '\'', '(', ')', '*', '+', ',', '-', '.', '/',
		':', ';', '<', '=', '>', '?', '¡', 'Ä', 'Ö', 'Ñ', 'Ü', '§', '¿', 'ä', 'ö', 'ñ', 'ü', 'à':
		return true
	}
	return false
}

// gsmExtension reports whether r is in the GSM 03.38 extension table,
// sent as an escape and a second septet.
func gsmExtension(r rune) bool {
	switch r {
	case '\f', '^', '{', '}', '\\', '[', '~', ']', '|', '€':
		return true
	}
	return false
}
