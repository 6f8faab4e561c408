// Package keys keeps careloop's own secret key: 32 random bytes in a file
// outside the database, from which the keys that seal secrets at rest (for
// example the seeds of authenticator apps) are drawn. Someone who copies
// the database without the key file cannot read those secrets.
package keys

import (
	"bytes"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Size is the length of the key in bytes.
const Size = 32

// Key is careloop's secret key.
type Key struct{ k []byte }

// LoadOrCreate reads the key file at path: one line of base64 holding Size
// bytes. When the file does not exist it is created with a new random key,
// readable by its owner only. Every careloop process of one database must
// be given the same file: losing it makes sealed secrets unreadable (people
// enroll their second factors again).
func LoadOrCreate(path string) (*Key, error) {
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return create(path)
	}
	if err != nil {
		return nil, fmt.Errorf("keys: read %s: %w", path, err)
	}
	if st, err := os.Stat(path); err == nil && st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("keys: %s can be read by others (mode %o); make it private: chmod 600 %s", path, st.Mode().Perm(), path)
	}
	k, err := base64.StdEncoding.DecodeString(string(bytes.TrimSpace(raw)))
	if err != nil || len(k) != Size {
		return nil, fmt.Errorf("keys: %s does not hold a careloop key (one line of base64, %d bytes); restore it from your backup", path, Size)
	}
	return &Key{k: k}, nil
}

func create(path string) (*Key, error) {
	k := make([]byte, Size)
	if _, err := rand.Read(k); err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	// Write the key in full to a file of its own, then link it into place:
	// of two processes starting at once, one links its key and the other
	// finds the link taken and reads that key, never a half-written file.
	tmp, err := os.CreateTemp(dir, ".secret-key-*")
	if err != nil {
		return nil, fmt.Errorf("keys: create %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	_, werr := tmp.WriteString(base64.StdEncoding.EncodeToString(k) + "\n")
	serr := tmp.Sync()
	cerr := tmp.Close()
	if err := errors.Join(werr, serr, cerr, os.Chmod(tmp.Name(), 0o600)); err != nil {
		return nil, fmt.Errorf("keys: write %s: %w", path, err)
	}
	if err := os.Link(tmp.Name(), path); errors.Is(err, fs.ErrExist) {
		return LoadOrCreate(path)
	} else if err != nil {
		return nil, fmt.Errorf("keys: create %s: %w", path, err)
	}
	return &Key{k: k}, nil
}

// Derive returns a key of n bytes for one purpose (HKDF-SHA256 with the
// purpose as info): each use gets its own key, and none reveals another.
func (k *Key) Derive(purpose string, n int) []byte {
	out, err := hkdf.Key(sha256.New, k.k, nil, "careloop "+purpose, n)
	if err != nil {
		panic(fmt.Sprintf("keys: derive %d bytes: %v", n, err)) // only for n beyond HKDF's limit
	}
	return out
}
