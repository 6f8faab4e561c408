// Package browsertest drives headless Chromium for careloop's page tests:
// Debian's chromium (/usr/bin/chromium, or CARELOOP_CHROMIUM) over the
// DevTools protocol, with axe-core (e2e/browser/node_modules, installed by
// `cd e2e/browser && npm ci`) injected to check accessibility. Without
// either, a test skips, and fails when CI is set: CI must never skip
// browser tests silently.
package browsertest

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Need skips t for a missing tool, or fails it when CI is set.
func Need(t testing.TB, what, hint string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("%s is missing (CI is set, so this fails instead of skipping): %s", what, hint)
	}
	t.Skipf("skipping browser test: %s is missing: %s", what, hint)
}

// Browser is one headless Chromium with a fresh profile, on a site.
type Browser struct {
	t    testing.TB
	ctx  context.Context
	base string
	axe  string
}

// New starts Chromium for t, at base (http://127.0.0.1:PORT), with a
// window of width × height CSS pixels.
func New(t testing.TB, base string, width, height int) *Browser {
	t.Helper()
	path := os.Getenv("CARELOOP_CHROMIUM")
	if path == "" {
		path = "/usr/bin/chromium"
	}
	if _, err := os.Stat(path); err != nil {
		Need(t, "Chromium ("+path+")", "apt-get install -y chromium, or set CARELOOP_CHROMIUM")
	}
	axe, err := os.ReadFile(filepath.Join(moduleRoot(t), "e2e", "browser", "node_modules", "axe-core", "axe.min.js"))
	if err != nil {
		Need(t, "axe-core", "cd e2e/browser && npm ci")
	}
	alloc, cancel := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(width, height))
	t.Cleanup(cancel)
	ctx, cancel2 := chromedp.NewContext(alloc)
	t.Cleanup(cancel2)
	// The first run starts the browser and must not carry a timeout.
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	return &Browser{t: t, ctx: ctx, base: base, axe: string(axe)}
}

// moduleRoot is the folder of go.mod above the test's working directory.
func moduleRoot(t testing.TB) string {
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("browsertest: no go.mod above the working directory")
		}
		dir = parent
	}
}

// Do runs actions with a time limit, so that a page that never comes
// fails the test instead of hanging it.
func (b *Browser) Do(actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatalf("browser: %v (at %s)", err, b.Path())
	}
}

// Viewport makes the page width × height CSS pixels, as a phone or a
// desktop shows it.
func (b *Browser) Viewport(width, height int, mobile bool) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	opts := []chromedp.EmulateViewportOption{chromedp.EmulateScale(1)}
	if mobile {
		opts = append(opts, chromedp.EmulateMobile)
	}
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(int64(width), int64(height), opts...)); err != nil {
		b.t.Fatalf("browser: viewport: %v", err)
	}
}

// Open loads path and waits for its body.
func (b *Browser) Open(path string) {
	b.t.Helper()
	b.Do(chromedp.Navigate(b.base+path), chromedp.WaitReady(chromedp.CSS("body")))
}

// Eval returns the value of a JavaScript expression in the page.
func Eval[T any](b *Browser, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("browser: evaluate %.60q: %v", expr, err)
	}
	return v
}

// Path is the path of the page shown.
func (b *Browser) Path() string {
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		return "?"
	}
	u, err := url.Parse(loc)
	if err != nil {
		return loc
	}
	return u.Path
}

// Text is the trimmed text of the first element matching css, or "".
func (b *Browser) Text(css string) string {
	b.t.Helper()
	return Eval[string](b, fmt.Sprintf(`(document.querySelector(%q)||{textContent:""}).textContent.trim()`, css))
}

// Fill sets the value of the input matching css.
func (b *Browser) Fill(css, value string) {
	b.t.Helper()
	b.Do(chromedp.SetValue(chromedp.CSS(css), value))
}

// Click clicks css and waits until a new page has loaded at path (any
// path when path is empty).
func (b *Browser) Click(css, path string) {
	b.t.Helper()
	b.markPage()
	b.Do(chromedp.Click(chromedp.CSS(css)))
	b.WaitFor(path)
}

// Press types keys (chromedp's key names, such as kb.Tab) into the
// focused element, as a keyboard-only person does.
func (b *Browser) Press(keys ...string) {
	b.t.Helper()
	for _, k := range keys {
		b.Do(chromedp.KeyEvent(k))
	}
}

// PressAndWait presses keys that submit a form, and waits for the next
// page at path.
func (b *Browser) PressAndWait(path string, keys ...string) {
	b.t.Helper()
	b.markPage()
	b.Press(keys...)
	b.WaitFor(path)
}

// Focused describes the focused element: its tag, id or name, and text.
func (b *Browser) Focused() string {
	b.t.Helper()
	return Eval[string](b, `(e => e ? (e.tagName + "#" + (e.id||e.name||"") + " " + (e.textContent||e.value||"").trim()).slice(0, 80) : "")(document.activeElement)`)
}

// markPage marks the current document, so that WaitFor waits for another.
func (b *Browser) markPage() { Eval[bool](b, `window.careloopOldPage = true`) }

// WaitFor waits until a page not marked by markPage has loaded at path
// (any path when path is empty).
func (b *Browser) WaitFor(path string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	for {
		loc, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.readyState === "complete" && !window.careloopOldPage ? location.pathname : ""`))
		if err == nil && loc != "" && (loc == path || path == "") {
			return
		}
		select {
		case <-ctx.Done():
			b.t.Fatalf("browser: waiting for %s, at %s: %.300s", path, b.Path(), b.Text("main"))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Violation is an accessibility problem axe-core found.
type Violation struct {
	ID, Impact, Help string
	Nodes            []string
}

// CheckA11y runs axe-core's WCAG 2.1 A and AA rules on the page and fails
// the test for every violation, whatever its impact.
func (b *Browser) CheckA11y(name string) {
	b.t.Helper()
	Eval[bool](b, b.axe+"\n;true")
	out := Eval[[]Violation](b, `axe.run(document, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]}, resultTypes: ["violations"]})
		.then(r => r.violations.map(v => ({ID: v.id, Impact: v.impact || "", Help: v.help, Nodes: v.nodes.slice(0, 5).map(n => n.target.join(" "))})))`)
	for _, v := range out {
		b.t.Errorf("accessibility of %s: %s (%s): %s at %v", name, v.ID, v.Impact, v.Help, v.Nodes)
	}
}

// Screenshot saves the whole page as a PNG at file.
func (b *Browser) Screenshot(file string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("browser: screenshot: %v", err)
	}
	if err := os.WriteFile(file, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}
