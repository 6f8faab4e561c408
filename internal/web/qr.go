package web

import (
	"fmt"
	"html/template"
	"strings"

	"github.com/boombuler/barcode/qr"
)

// qrSVG renders text as a QR code in inline SVG: one path of unit squares
// with a quiet zone of four modules. Inline SVG needs no image request and
// no data: URL, so the page's CSP stays strict, and the secret it carries
// never sits in a URL or a cache.
func qrSVG(text, label string) (template.HTML, error) {
	code, err := qr.Encode(text, qr.M, qr.Auto)
	if err != nil {
		return "", fmt.Errorf("web: QR code: %w", err)
	}
	b := code.Bounds()
	n := b.Dx()
	var path strings.Builder
	for y := 0; y < b.Dy(); y++ {
		for x := 0; x < n; x++ {
			if r, _, _, _ := code.At(b.Min.X+x, b.Min.Y+y).RGBA(); r == 0 {
				fmt.Fprintf(&path, "M%d %dh1v1h-1z", x+4, y+4)
			}
		}
	}
	size := n + 8
	// label is escaped by the caller's choice of a fixed string; escape
	// anyway, since this bypasses the template's escaping.
	return template.HTML(fmt.Sprintf(`<svg class="qr" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" role="img" aria-label="%s" shape-rendering="crispEdges"><rect width="%d" height="%d" fill="#fff"/><path fill="#000" d="%s"/></svg>`,
		size, size, template.HTMLEscapeString(label), size, size, path.String())), nil
}
