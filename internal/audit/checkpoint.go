package audit

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	tlog "github.com/transparency-dev/formats/log"
	"golang.org/x/mod/sumdb/note"

	"github.com/careloop/careloop/internal/platform/errs"
)

// Checkpoint is a signed statement of the tree's size and root: a
// transparency-dev checkpoint in a signed note.
type Checkpoint struct {
	Size   uint64
	Root   []byte
	Note   []byte // the signed note, as published
	Issued time.Time
}

// Publisher sends checkpoints to a place outside careloop's database, so
// that whoever controls the database cannot rewrite history unseen.
type Publisher interface {
	Publish(ctx context.Context, cp *Checkpoint) error
}

// Publishers publishes each checkpoint to every place in the list, and
// reports every failure.
type Publishers []Publisher

// Publish implements Publisher.
func (ps Publishers) Publish(ctx context.Context, cp *Checkpoint) error {
	var errs []error
	for _, p := range ps {
		if err := p.Publish(ctx, cp); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// PublishTo returns the Publisher of a folder and an HTTP endpoint, either
// or both; nil when both are empty.
func PublishTo(dir, url string) Publisher {
	var ps Publishers
	if dir != "" {
		ps = append(ps, FolderPublisher{Dir: dir})
	}
	if url != "" {
		ps = append(ps, HTTPPublisher{URL: url})
	}
	if len(ps) == 0 {
		return nil
	}
	return ps
}

// edSigner signs notes with an Ed25519 key under the log's origin.
type edSigner struct {
	name string
	hash uint32
	key  ed25519.PrivateKey
}

func (s *edSigner) Name() string                    { return s.name }
func (s *edSigner) KeyHash() uint32                 { return s.hash }
func (s *edSigner) Sign(msg []byte) ([]byte, error) { return ed25519.Sign(s.key, msg), nil }

func newSigner(origin string, key ed25519.PrivateKey) (note.Signer, note.Verifier, error) {
	vkey, err := note.NewEd25519VerifierKey(origin, key.Public().(ed25519.PublicKey))
	if err != nil {
		return nil, nil, fmt.Errorf("audit: verifier key for %q: %w", origin, err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, nil, fmt.Errorf("audit: verifier key: %w", err)
	}
	return &edSigner{name: origin, hash: v.KeyHash(), key: key}, v, nil
}

// VerifierKey returns the note verifier key of the log's checkpoints
// ("origin+hash+base64 key"), which anyone may use to check them; it is
// empty without a signing key.
func (l *Log) VerifierKey() string {
	if l.signer == nil {
		return ""
	}
	s := l.signer.(*edSigner)
	vkey, _ := note.NewEd25519VerifierKey(s.name, s.key.Public().(ed25519.PublicKey))
	return vkey
}

// Checkpoint issues, stores and publishes a signed checkpoint of the current
// tree when it grew since the latest checkpoint, and returns the latest
// checkpoint with issued true if it is new. It first sequences pending
// entries. When nothing is new but the latest checkpoint was not yet
// published by this process, it is published again.
func (l *Log) Checkpoint(ctx context.Context) (cp *Checkpoint, issued bool, err error) {
	if l.signer == nil {
		return nil, false, errors.New("audit: checkpoint: no signing key")
	}
	if _, err := l.Sequence(ctx); err != nil {
		return nil, false, err
	}
	size, root, err := l.Size(ctx)
	if err != nil {
		return nil, false, err
	}
	latest, err := l.LatestCheckpoint(ctx)
	if err != nil && errs.CodeOf(err) != errs.NotFound {
		return nil, false, err
	}
	if size == 0 || (latest != nil && latest.Size >= size) {
		if latest != nil && l.publisher != nil && !l.published(latest.Size) {
			if err := l.publish(ctx, latest); err != nil {
				return latest, false, err
			}
		}
		return latest, false, nil
	}
	text := tlog.Checkpoint{Origin: l.origin, Size: size, Hash: root}.Marshal()
	signed, err := note.Sign(&note.Note{Text: string(text)}, l.signer)
	if err != nil {
		return nil, false, fmt.Errorf("audit: sign checkpoint: %w", err)
	}
	cp = &Checkpoint{Size: size, Root: root, Note: signed, Issued: l.now().UTC().Truncate(time.Microsecond)}
	// Two processes may issue the same size at once; the notes are equal
	// (Ed25519 is deterministic), so the second insert changes nothing.
	release := l.guard.Hold()
	_, err = l.db.Write.ExecContext(ctx, `INSERT INTO audit_checkpoint (size, root, note, issued) VALUES ($1, $2, $3, $4)
		ON CONFLICT (size) DO NOTHING`, int64(size), root, string(signed), cp.Issued.UnixMicro())
	release()
	if err != nil {
		return nil, false, fmt.Errorf("audit: store checkpoint: %w", err)
	}
	if l.publisher != nil {
		if err := l.publish(ctx, cp); err != nil {
			return cp, true, err
		}
	}
	return cp, true, nil
}

func (l *Log) published(size uint64) bool {
	l.pubMu.Lock()
	defer l.pubMu.Unlock()
	return l.lastPublished >= size
}

func (l *Log) publish(ctx context.Context, cp *Checkpoint) error {
	if err := l.publisher.Publish(ctx, cp); err != nil {
		return fmt.Errorf("audit: publish checkpoint %d: %w", cp.Size, err)
	}
	l.pubMu.Lock()
	l.lastPublished = max(l.lastPublished, cp.Size)
	l.pubMu.Unlock()
	return nil
}

// LatestCheckpoint returns the newest stored checkpoint, or an errs.NotFound
// error when none was issued yet.
func (l *Log) LatestCheckpoint(ctx context.Context) (*Checkpoint, error) {
	cps, err := l.checkpoints(ctx, "ORDER BY size DESC LIMIT 1")
	if err != nil {
		return nil, err
	}
	if len(cps) == 0 {
		return nil, errs.NotFoundf("No audit checkpoint has been issued yet.")
	}
	return cps[0], nil
}

// Checkpoints returns every stored checkpoint, smallest first.
func (l *Log) Checkpoints(ctx context.Context) ([]*Checkpoint, error) {
	return l.checkpoints(ctx, "ORDER BY size")
}

func (l *Log) checkpoints(ctx context.Context, tail string) ([]*Checkpoint, error) {
	rows, err := l.db.Read.QueryContext(ctx, "SELECT size, root, note, issued FROM audit_checkpoint "+tail)
	if err != nil {
		return nil, fmt.Errorf("audit: read checkpoints: %w", err)
	}
	defer rows.Close()
	var out []*Checkpoint
	for rows.Next() {
		var size, issued int64
		var text string
		cp := &Checkpoint{}
		if err := rows.Scan(&size, &cp.Root, &text, &issued); err != nil {
			return nil, fmt.Errorf("audit: read checkpoints: %w", err)
		}
		cp.Size, cp.Note, cp.Issued = uint64(size), []byte(text), time.UnixMicro(issued).UTC()
		out = append(out, cp)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("audit: read checkpoints: %w", err)
	}
	return out, nil
}

// OpenCheckpoint checks the signature of a checkpoint note with the log's
// verifier and returns its size and root.
func (l *Log) OpenCheckpoint(signed []byte) (size uint64, root []byte, err error) {
	if l.verifier == nil {
		return 0, nil, errors.New("audit: no verifier key")
	}
	cp, _, _, err := tlog.ParseCheckpoint(signed, l.origin, l.verifier)
	if err != nil {
		return 0, nil, err
	}
	return cp.Size, cp.Hash, nil
}

// FolderPublisher writes each checkpoint to Dir as checkpoint-<size> and
// replaces Dir/latest, each atomically (written in full, then renamed).
type FolderPublisher struct{ Dir string }

// Publish implements Publisher.
func (p FolderPublisher) Publish(_ context.Context, cp *Checkpoint) error {
	if err := os.MkdirAll(p.Dir, 0o755); err != nil {
		return err
	}
	if err := writeAtomic(filepath.Join(p.Dir, fmt.Sprintf("checkpoint-%020d", cp.Size)), cp.Note); err != nil {
		return err
	}
	return writeAtomic(filepath.Join(p.Dir, "latest"), cp.Note)
}

func writeAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	_, werr := f.Write(data)
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr, os.Chmod(f.Name(), 0o644)); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// PublishedFile is a checkpoint note read from a publication folder.
type PublishedFile struct {
	Name string
	Note []byte
}

// ReadFolder returns the checkpoint notes a FolderPublisher wrote to dir:
// every checkpoint-* file and latest.
func ReadFolder(dir string) ([]PublishedFile, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("audit: published checkpoints: %w", err)
	}
	var out []PublishedFile
	for _, e := range ents {
		if e.IsDir() || (e.Name() != "latest" && !strings.HasPrefix(e.Name(), "checkpoint-")) {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("audit: published checkpoints: %w", err)
		}
		out = append(out, PublishedFile{Name: e.Name(), Note: b})
	}
	return out, nil
}

// HTTPPublisher POSTs each checkpoint note to URL as text/plain; any status
// other than 2xx is an error.
type HTTPPublisher struct {
	URL    string
	Client *http.Client // nil means a client with a 10 s timeout
}

// Publish implements Publisher.
func (p HTTPPublisher) Publish(ctx context.Context, cp *Checkpoint) error {
	c := p.Client
	if c == nil {
		c = &http.Client{Timeout: 10 * time.Second}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.URL, bytes.NewReader(cp.Note))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "text/plain; charset=utf-8")
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("POST %s: %s", p.URL, resp.Status)
	}
	return nil
}
