package templates

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"strings"
)

//go:embed text/*.tmpl
var files embed.FS

// subjectPrefix starts the first line of an email or in-app file.
const subjectPrefix = "Subject: "

// builtIn returns careloop's own texts, read from the embedded files.
func builtIn() ([]Template, error) {
	names, err := fs.Glob(files, "text/*.tmpl")
	if err != nil {
		return nil, fmt.Errorf("templates: list texts: %w", err)
	}
	out := make([]Template, 0, len(names))
	for _, name := range names {
		src, err := files.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("templates: read %s: %w", name, err)
		}
		t, err := parseFile(path.Base(name), string(src))
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

// parseFile reads one text file: its key from the name
// (kind.channel.lang.level.tmpl) and, for email and in-app, the subject
// line and the blank line after it.
func parseFile(name, src string) (Template, error) {
	parts := strings.Split(strings.TrimSuffix(name, ".tmpl"), ".")
	if len(parts) != 4 || !strings.HasSuffix(name, ".tmpl") {
		return Template{}, fmt.Errorf("templates: %s: want a name kind.channel.lang.level.tmpl", name)
	}
	t := Template{Key: Key{Kind: Kind(parts[0]), Channel: parts[1], Lang: parts[2], Level: parts[3]}}
	src = strings.ReplaceAll(src, "\r\n", "\n")
	if t.Channel == SMS {
		t.Body = strings.TrimRight(src, "\n")
		return t, nil
	}
	first, rest, ok := strings.Cut(src, "\n")
	if !ok || !strings.HasPrefix(first, subjectPrefix) {
		return Template{}, fmt.Errorf("templates: %s: the first line must start with %q", name, subjectPrefix)
	}
	body, ok := strings.CutPrefix(rest, "\n")
	if !ok {
		return Template{}, fmt.Errorf("templates: %s: a blank line must follow the subject", name)
	}
	t.Subject = strings.TrimPrefix(first, subjectPrefix)
	t.Body = strings.TrimRight(body, "\n")
	return t, nil
}
