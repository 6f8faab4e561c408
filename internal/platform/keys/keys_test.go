package keys

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestLoadOrCreate(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "secret.key")
	// Many processes starting at once end up with one key.
	var wg sync.WaitGroup
	got := make([]*Key, 8)
	for i := range got {
		wg.Go(func() {
			k, err := LoadOrCreate(path)
			if err != nil {
				t.Error(err)
				return
			}
			got[i] = k
		})
	}
	wg.Wait()
	for _, k := range got[1:] {
		if k == nil || !bytes.Equal(k.k, got[0].k) {
			t.Fatal("concurrent starts made different keys")
		}
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode: %v %v", st.Mode(), err)
	}
	again, err := LoadOrCreate(path)
	if err != nil || !bytes.Equal(again.k, got[0].k) {
		t.Fatalf("reloading: %v", err)
	}
	a, b := again.Derive("totp", 32), again.Derive("other", 32)
	if len(a) != 32 || bytes.Equal(a, b) || !bytes.Equal(a, got[0].Derive("totp", 32)) || bytes.Equal(a, again.k) {
		t.Error("derived keys are not distinct and stable")
	}

	os.Chmod(path, 0o644)
	if _, err := LoadOrCreate(path); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("a key readable by others: %v", err)
	}
	os.Chmod(path, 0o600)
	os.WriteFile(path, []byte("not a key\n"), 0o600)
	if _, err := LoadOrCreate(path); err == nil || !strings.Contains(err.Error(), "does not hold a careloop key") {
		t.Errorf("a bad key file: %v", err)
	}
}
