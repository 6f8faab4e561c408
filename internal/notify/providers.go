package notify

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/careloop/careloop/internal/platform/db"
	"github.com/careloop/careloop/internal/platform/errs"
)

// ProviderSettings is an organisation's provider of one channel. Secret
// (an SMTP password, an SMS provider's auth token or signing secret) is
// accepted on writes and never returned: reads say only SecretSet.
type ProviderSettings struct {
	Channel   string            `json:"channel"`
	Kind      string            `json:"kind"`
	Settings  map[string]string `json:"settings,omitempty"`
	Secret    string            `json:"secret,omitempty"`
	SecretSet bool              `json:"secret_set"`
	UpdatedAt time.Time         `json:"updated_at,omitzero"`
	UpdatedBy string            `json:"updated_by,omitempty"`
	// Default: not the organisation's own; careloop's server-wide setting.
	Default bool `json:"default,omitempty"`
}

// providerKind describes a kind of provider: its channel, the settings it
// requires and accepts, whether it needs a secret, and how to build its
// sender.
type providerKind struct {
	channel  string
	required []string
	optional []string
	secret   int // secretNone, secretOptional or secretRequired
	build    func(settings map[string]string, secret string, log *slog.Logger) (Sender, error)
}

// Whether a kind of provider takes a secret.
const (
	secretNone = iota
	secretOptional
	secretRequired
)

// ProviderDefaults are the senders of organisations without their own
// provider: careloop's server-wide settings (--smtp-url). A nil sender
// means the channel is not available.
type ProviderDefaults struct {
	Email, SMS         Sender
	EmailKind, SMSKind string // "smtp", "log", ...
}

// Providers keeps each organisation's providers and builds their
// senders. A built sender is kept (with its open connections) and checked
// against the stored settings every providersTTL, so that changes made on
// other nodes apply; it is rebuilt only when they changed. It is safe for
// concurrent use.
type Providers struct {
	db       *db.DB
	aead     cipher.AEAD // seals secrets; nil: secrets cannot be stored
	defaults ProviderDefaults
	log      *slog.Logger

	mu    sync.Mutex
	cache map[string]*senderEntry
}

// senderEntry is the sender of one organisation's channel. Its first user
// builds it while later ones wait (mu), so that a burst of sends does not
// build one sender, with its own connections, each.
type senderEntry struct {
	mu      sync.Mutex
	sender  Sender
	kind    string
	err     error
	version int64 // the settings' updated_at; -1 for the defaults
	checked time.Time
}

const providersTTL = 30 * time.Second

// NewProviders returns the providers stored in d. key (32 bytes, from
// careloop's key file) seals their secrets; nil refuses secrets.
func NewProviders(d *db.DB, key []byte, defaults ProviderDefaults, log *slog.Logger) *Providers {
	p := &Providers{db: d, defaults: defaults, log: log, cache: map[string]*senderEntry{}}
	if len(key) == 32 {
		block, err := aes.NewCipher(key)
		if err == nil {
			p.aead, _ = cipher.NewGCMWithRandomNonce(block)
		}
	}
	return p
}

func secretAAD(orgID, channel string) []byte {
	return []byte("careloop notify provider\x00" + orgID + "\x00" + channel)
}

// Sender returns the sender of the organisation's channel and the kind of
// its provider. An organisation without a provider of its own uses the
// defaults; a channel without any provider is a permanent error (the next
// channel is tried).
func (p *Providers) Sender(ctx context.Context, orgID, channel string) (Sender, string, error) {
	k := orgID + "\x00" + channel
	p.mu.Lock()
	e, ok := p.cache[k]
	if !ok {
		e = &senderEntry{}
		p.cache[k] = e
	}
	p.mu.Unlock()
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.checked.IsZero() && time.Since(e.checked) < providersTTL {
		return e.sender, e.kind, e.err
	}
	p.refresh(ctx, e, orgID, channel)
	return e.sender, e.kind, e.err
}

// refresh reads the channel's settings and rebuilds e's sender when they
// changed since it was built.
func (p *Providers) refresh(ctx context.Context, e *senderEntry, orgID, channel string) {
	ps, secret, err := p.load(ctx, orgID, channel)
	version := int64(-1)
	switch {
	case errs.CodeOf(err) == errs.NotFound:
	case err != nil:
		// A database hiccup: keep what was built, if anything, and try
		// again on the next send.
		if e.sender == nil {
			e.err = err
		}
		e.checked = time.Time{}
		return
	default:
		version = ms(ps.UpdatedAt)
	}
	e.checked = time.Now()
	if e.sender != nil && e.version == version {
		return
	}
	if c, ok := e.sender.(interface{ Close() error }); ok && e.version != -1 {
		// The organisation's own settings changed: drop the old
		// connections (the defaults are shared and stay open).
		_ = c.Close()
	}
	e.sender, e.kind, e.err, e.version = nil, "", nil, version
	if version == -1 {
		switch channel {
		case Email:
			e.sender, e.kind = p.defaults.Email, p.defaults.EmailKind
		case SMS:
			e.sender, e.kind = p.defaults.SMS, p.defaults.SMSKind
		}
		if e.sender == nil {
			e.err = Permanent(fmt.Errorf("no %s provider is configured for the organisation", channel), false)
		}
		return
	}
	e.kind = ps.Kind
	e.sender, err = providerKinds[ps.Kind].build(ps.Settings, secret, p.log)
	if err != nil {
		e.sender, e.err = nil, Permanent(fmt.Errorf("the %s provider's settings are not usable: %w", channel, err), false)
	}
}

// forget makes the next send check the channel's settings.
func (p *Providers) forget(orgID, channel string) {
	p.mu.Lock()
	e := p.cache[orgID+"\x00"+channel]
	p.mu.Unlock()
	if e != nil {
		e.mu.Lock()
		e.checked = time.Time{}
		e.mu.Unlock()
	}
}

// load reads an organisation's provider of a channel and opens its secret.
func (p *Providers) load(ctx context.Context, orgID, channel string) (ProviderSettings, string, error) {
	var ps ProviderSettings
	var settings string
	var sealed []byte
	var updated int64
	err := p.db.Read.QueryRowContext(ctx, "SELECT kind, settings, secret, updated_at, updated_by FROM notify_providers WHERE org_id = $1 AND channel = $2",
		orgID, channel).Scan(&ps.Kind, &settings, &sealed, &updated, &ps.UpdatedBy)
	if errors.Is(err, sql.ErrNoRows) {
		return ps, "", errs.NotFoundf("No %s provider is configured.", channel)
	}
	if err != nil {
		return ps, "", fmt.Errorf("notify: %s provider of %s: %w", channel, orgID, err)
	}
	ps.Channel, ps.UpdatedAt = channel, fromMS(updated)
	if err := json.Unmarshal([]byte(settings), &ps.Settings); err != nil {
		return ps, "", fmt.Errorf("notify: %s provider of %s: %w", channel, orgID, err)
	}
	var secret string
	if len(sealed) > 0 {
		if p.aead == nil {
			return ps, "", fmt.Errorf("notify: the %s provider's secret cannot be opened without careloop's key", channel)
		}
		plain, err := p.aead.Open(nil, nil, sealed, secretAAD(orgID, channel))
		if err != nil {
			return ps, "", fmt.Errorf("notify: the %s provider's secret does not open with this key: %w", channel, err)
		}
		secret, ps.SecretSet = string(plain), true
	}
	return ps, secret, nil
}

// Get returns an organisation's providers, one per channel, its own or
// the defaults, without secrets.
func (p *Providers) Get(ctx context.Context, orgID string) ([]ProviderSettings, error) {
	var out []ProviderSettings
	for _, ch := range externalChannels {
		ps, _, err := p.load(ctx, orgID, ch)
		switch {
		case errs.CodeOf(err) == errs.NotFound:
			ps = ProviderSettings{Channel: ch, Default: true, Kind: map[string]string{Email: p.defaults.EmailKind, SMS: p.defaults.SMSKind}[ch]}
			if ps.Kind == "" {
				ps.Kind = "none"
			}
		case err != nil:
			return nil, err
		}
		out = append(out, ps)
	}
	return out, nil
}

// secret returns the secret of an organisation's provider of a channel
// when it is of the given kind ("" and errs.NotFound otherwise): the
// receipts' signatures are checked with it.
func (p *Providers) secret(ctx context.Context, orgID, channel, kind string) (string, error) {
	ps, secret, err := p.load(ctx, orgID, channel)
	if err != nil {
		return "", err
	}
	if ps.Kind != kind {
		return "", errs.NotFoundf("The organisation's %s provider is not of kind %s.", channel, kind)
	}
	return secret, nil
}

// Set checks and stores an organisation's provider of ps.Channel. An
// empty Secret keeps the stored one when the kind is unchanged. The
// settings are tried (the sender is built) before anything is stored.
func (p *Providers) Set(ctx context.Context, orgID string, ps ProviderSettings, by string, now time.Time) error {
	kind, ok := providerKinds[ps.Kind]
	if !ok || kind.channel != ps.Channel {
		var names []string
		for n, k := range providerKinds {
			if k.channel == ps.Channel {
				names = append(names, n)
			}
		}
		sort.Strings(names)
		if len(names) == 0 {
			return errs.Invalidf("channel", "%q is not a channel with providers (email or sms).", ps.Channel)
		}
		return errs.Invalidf("kind", "%q is not a kind of %s provider (one of %s).", ps.Kind, ps.Channel, strings.Join(names, ", "))
	}
	for name := range ps.Settings {
		if !slices.Contains(kind.required, name) && !slices.Contains(kind.optional, name) {
			return errs.Invalidf("settings."+name, "A %s provider has no setting %q (it takes %s).", ps.Kind, name, strings.Join(append(slices.Clone(kind.required), kind.optional...), ", "))
		}
	}
	for _, name := range kind.required {
		if strings.TrimSpace(ps.Settings[name]) == "" {
			return errs.Invalidf("settings."+name, "A %s provider needs the setting %q.", ps.Kind, name)
		}
	}
	secret := ps.Secret
	if kind.secret != secretNone && secret == "" {
		old, oldSecret, err := p.load(ctx, orgID, ps.Channel)
		if err == nil && old.Kind == ps.Kind {
			secret = oldSecret
		}
		if secret == "" && kind.secret == secretRequired {
			return errs.Invalidf("secret", "A %s provider needs its secret (auth token or signing secret).", ps.Kind)
		}
	}
	if kind.secret == secretNone && secret != "" {
		return errs.Invalidf("secret", "A %s provider takes no secret.", ps.Kind)
	}
	if _, err := kind.build(ps.Settings, secret, p.log); err != nil {
		return errs.Invalidf("settings", "The %s provider's settings are not usable: %v.", ps.Kind, err)
	}
	var sealed []byte
	if secret != "" {
		if p.aead == nil {
			return errs.E(errs.Unavailable, "Secrets cannot be stored: careloop runs without its key file.")
		}
		sealed = p.aead.Seal(nil, nil, []byte(secret), secretAAD(orgID, ps.Channel))
	}
	settings, err := json.Marshal(ps.Settings)
	if err != nil {
		return fmt.Errorf("notify: provider settings: %w", err)
	}
	if ps.Settings == nil {
		settings = []byte("{}")
	}
	_, err = p.db.Write.ExecContext(ctx, `INSERT INTO notify_providers (org_id, channel, kind, settings, secret, updated_at, updated_by) VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (org_id, channel) DO UPDATE SET kind = excluded.kind, settings = excluded.settings, secret = excluded.secret, updated_at = excluded.updated_at, updated_by = excluded.updated_by`,
		orgID, ps.Channel, ps.Kind, string(settings), sealed, ms(now), by)
	if err != nil {
		return fmt.Errorf("notify: store the %s provider of %s: %w", ps.Channel, orgID, err)
	}
	p.forget(orgID, ps.Channel)
	return nil
}

// Remove deletes an organisation's own provider of a channel: the
// defaults apply again.
func (p *Providers) Remove(ctx context.Context, orgID, channel string) error {
	res, err := p.db.Write.ExecContext(ctx, "DELETE FROM notify_providers WHERE org_id = $1 AND channel = $2", orgID, channel)
	if err != nil {
		return fmt.Errorf("notify: remove the %s provider of %s: %w", channel, orgID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return errs.NotFoundf("The organisation has no %s provider of its own.", channel)
	}
	p.forget(orgID, channel)
	return nil
}
