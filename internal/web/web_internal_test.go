package web

import (
	"encoding/xml"
	"fmt"
	"strings"
	"testing"
)

func TestDevice(t *testing.T) {
	tests := []struct{ name, ua, want string }{
		{"chrome on linux", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36", "Chrome on Linux"},
		{"safari on iphone", "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Mobile/15E148 Safari/604.1", "Safari on iPhone"},
		{"edge on windows", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36 Edg/130.0", "Edge on Windows"},
		{"firefox on mac", "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.5; rv:131.0) Gecko/20100101 Firefox/131.0", "Firefox on macOS"},
		{"a program", "Go-http-client/1.1", "Unknown browser"},
		{"nothing", "", "Unknown browser"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := device(tt.ua); got != tt.want {
				t.Errorf("device = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestGroupSecret(t *testing.T) {
	tests := []struct{ in, want string }{
		{"ABCDEFGHIJKLMNOP", "ABCD EFGH IJKL MNOP"},
		{"ABCDEF", "ABCD EF"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := groupSecret(tt.in); got != tt.want {
			t.Errorf("groupSecret(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestQRSVG(t *testing.T) {
	svg, err := qrSVG("otpauth://totp/careloop:ann@example.org?secret=JBSWY3DPEHPK3PXP&issuer=careloop", `QR "code" <for> app`)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		XMLName xml.Name `xml:"svg"`
		ViewBox string   `xml:"viewBox,attr"`
		Label   string   `xml:"aria-label,attr"`
		Path    struct {
			D string `xml:"d,attr"`
		} `xml:"path"`
	}
	if err := xml.Unmarshal([]byte(svg), &doc); err != nil {
		t.Fatalf("not well-formed SVG: %v", err)
	}
	if doc.Label != `QR "code" <for> app` {
		t.Errorf("label %q", doc.Label)
	}
	// A QR code is 17+4v modules square; with the quiet zone, 25+4v.
	var w, h int
	if _, err := fmtSscan(doc.ViewBox, &w, &h); err != nil || w != h || (w-25)%4 != 0 {
		t.Errorf("viewBox %q", doc.ViewBox)
	}
	// The top-left finder pattern starts with a dark module at (4,4).
	if !strings.HasPrefix(doc.Path.D, "M4 4h1v1h-1z") {
		t.Errorf("path starts %.40q", doc.Path.D)
	}
}

func fmtSscan(viewBox string, w, h *int) (int, error) {
	return fmt.Sscanf(viewBox, "0 0 %d %d", w, h)
}
