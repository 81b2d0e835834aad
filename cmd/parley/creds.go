package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/parley-chat/parley/client"
)

// credentials are one server's login: the tokens of the session.
type credentials struct {
	Username     string    `json:"username"`
	Token        string    `json:"token"`
	RefreshToken string    `json:"refreshToken"`
	Expires      time.Time `json:"expires"` // of Token
}

func newCredentials(t *client.Tokens, now time.Time) *credentials {
	return &credentials{
		Username: t.Username, Token: t.Token, RefreshToken: t.RefreshToken,
		Expires: now.Add(time.Duration(t.ExpiresIn) * time.Second),
	}
}

// credFile is the layout of credentials.json.
type credFile struct {
	Servers map[string]*credentials `json:"servers"`
}

// credStore keeps the credentials of every server logged into in
// dir/credentials.json, mode 0600, in a directory of mode 0700. Writes
// replace the file atomically.
type credStore struct {
	dir string
}

// errNotLoggedIn: no credentials for the server.
var errNotLoggedIn = errors.New("not logged in")

// configDir is $PARLEY_CONFIG_DIR, else os.UserConfigDir()/parley; with a
// profile, its profiles/NAME.
func configDir(e *env) (string, error) {
	d := e.getenv("PARLEY_CONFIG_DIR")
	if d == "" {
		base, err := os.UserConfigDir()
		if err != nil {
			return "", fmt.Errorf("finding the config directory (set PARLEY_CONFIG_DIR): %w", err)
		}
		d = filepath.Join(base, "parley")
	}
	if e.profile == "" {
		return d, nil
	}
	if !validProfile(e.profile) {
		return "", fmt.Errorf("%w: profile %q: use letters, digits, '_', '-' and '.'", errUsage, e.profile)
	}
	return filepath.Join(d, "profiles", e.profile), nil
}

func validProfile(name string) bool {
	if name == "." || name == ".." || len(name) > 64 {
		return false
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.') {
			return false
		}
	}
	return true
}

func openStore(e *env) (*credStore, error) {
	d, err := configDir(e)
	if err != nil {
		return nil, err
	}
	return &credStore{dir: d}, nil
}

func (s *credStore) path() string { return filepath.Join(s.dir, "credentials.json") }

func (s *credStore) read() (*credFile, error) {
	f := &credFile{Servers: map[string]*credentials{}}
	data, err := os.ReadFile(s.path())
	if errors.Is(err, fs.ErrNotExist) {
		return f, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(data, f); err != nil {
		return nil, fmt.Errorf("reading %s: %w", s.path(), err)
	}
	if f.Servers == nil {
		f.Servers = map[string]*credentials{}
	}
	return f, nil
}

func (s *credStore) write(f *credFile) error {
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return err
	}
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(s.dir, ".credentials-*") // mode 0600
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), s.path())
}

// get returns the credentials for server, or errNotLoggedIn.
func (s *credStore) get(server string) (*credentials, error) {
	f, err := s.read()
	if err != nil {
		return nil, err
	}
	c := f.Servers[normServer(server)]
	if c == nil {
		return nil, fmt.Errorf("%w to %s: run parley login", errNotLoggedIn, server)
	}
	return c, nil
}

// put stores the credentials for server.
func (s *credStore) put(server string, c *credentials) error {
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	f, err := s.read()
	if err != nil {
		return err
	}
	f.Servers[normServer(server)] = c
	return s.write(f)
}

// remove forgets server's credentials; with a refresh token given, only
// if they are still the ones holding it (another login may have replaced
// them).
func (s *credStore) remove(server, refreshToken string) error {
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	return s.removeLocked(server, refreshToken)
}

func (s *credStore) removeLocked(server, refreshToken string) error {
	f, err := s.read()
	if err != nil {
		return err
	}
	c := f.Servers[normServer(server)]
	if c == nil || (refreshToken != "" && c.RefreshToken != refreshToken) {
		return nil
	}
	delete(f.Servers, normServer(server))
	return s.write(f)
}

// lock takes the store's lock file, so that two parley processes do not
// both refresh the same token: the server takes a rotated-out refresh
// token presented again as theft and ends the session.
func (s *credStore) lock() (func(), error) {
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(s.dir, "credentials.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := lockFile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("locking %s: %w", f.Name(), err)
	}
	return func() {
		unlockFile(f)
		f.Close()
	}, nil
}
