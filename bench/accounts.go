package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parley-chat/parley/client"
)

// Account is one bench user and its session.
type Account struct {
	Username string    `json:"username"`
	Password string    `json:"password"`
	Token    string    `json:"token,omitempty"`
	Refresh  string    `json:"refreshToken,omitempty"`
	Expires  time.Time `json:"expires,omitempty"`
	mu       sync.Mutex
	reauth   sync.Mutex
}

// AccessToken returns the current access token.
func (a *Account) AccessToken() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.Token
}

// accountFile is the token cache on disk.
type accountFile struct {
	Server   string              `json:"server"`
	Accounts map[string]*Account `json:"accounts"`
	// Groups maps a layout key ("<prefix>:<size>:<index>") to a groupId.
	Groups map[string]string `json:"groups"`
}

// Accounts is the pool of bench accounts of one server, registered and
// logged in once (a login is deliberately slow password hashing) and kept
// in a cache file so that later runs reuse the sessions. Access tokens are
// refreshed (POST /auth/refresh) when they would expire during the run,
// and an account the server no longer knows is registered again.
type Accounts struct {
	API  *client.Client
	path string
	mu   sync.Mutex
	file accountFile
}

// OpenAccounts reads the cache at path (a missing file is an empty cache;
// a cache of another server is dropped).
func OpenAccounts(api *client.Client, path string) (*Accounts, error) {
	a := &Accounts{API: api, path: path, file: accountFile{Server: api.BaseURL, Accounts: map[string]*Account{}, Groups: map[string]string{}}}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return a, nil
	}
	if err != nil {
		return nil, err
	}
	var f accountFile
	if err := json.Unmarshal(b, &f); err != nil || f.Server != api.BaseURL {
		return a, nil // unreadable or another server's: start over
	}
	if f.Accounts != nil {
		a.file.Accounts = f.Accounts
	}
	if f.Groups != nil {
		a.file.Groups = f.Groups
	}
	return a, nil
}

// Save writes the cache.
func (a *Accounts) Save() error {
	a.mu.Lock()
	f := accountFile{Server: a.file.Server, Accounts: make(map[string]*Account, len(a.file.Accounts)), Groups: map[string]string{}}
	for k, v := range a.file.Accounts {
		v.mu.Lock()
		f.Accounts[k] = &Account{Username: v.Username, Password: v.Password, Token: v.Token, Refresh: v.Refresh, Expires: v.Expires}
		v.mu.Unlock()
	}
	for k, v := range a.file.Groups {
		f.Groups[k] = v
	}
	a.mu.Unlock()
	b, err := json.Marshal(&f)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(a.path), 0o755); err != nil {
		return err
	}
	tmp := a.path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, a.path)
}

// Group returns the cached groupId of a layout key.
func (a *Accounts) Group(key string) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.file.Groups[key]
}

// SetGroup caches a groupId.
func (a *Accounts) SetGroup(key, id string) {
	a.mu.Lock()
	a.file.Groups[key] = id
	a.mu.Unlock()
}

func (a *Accounts) get(name string) *Account {
	a.mu.Lock()
	defer a.mu.Unlock()
	acct := a.file.Accounts[name]
	if acct == nil {
		acct = &Account{Username: name, Password: "bench-pw-" + name}
		a.file.Accounts[name] = acct
	}
	return acct
}

// Ensure returns the named accounts with access tokens valid for at least
// minValid, registering, logging in or refreshing as needed with the given
// number of concurrent requests. progress, when set, is told of each
// account done.
func (a *Accounts) Ensure(ctx context.Context, names []string, minValid time.Duration, workers int, progress func(done, total int)) ([]*Account, error) {
	accts := make([]*Account, len(names))
	for i, n := range names {
		accts[i] = a.get(n)
	}
	a.dropStale(ctx, accts)
	if workers < 1 {
		workers = 1
	}
	var next, done atomic.Int64
	var firstErr error
	var errMu sync.Mutex
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(accts) || ctx.Err() != nil {
					return
				}
				if err := a.ensureOne(ctx, accts[i], minValid); err != nil {
					errMu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("account %s: %w", accts[i].Username, err)
					}
					errMu.Unlock()
				}
				if progress != nil {
					progress(int(done.Add(1)), len(accts))
				}
			}
		}()
	}
	wg.Wait()
	if err := a.Save(); err != nil && firstErr == nil {
		firstErr = fmt.Errorf("saving the account cache: %w", err)
	}
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	return accts, firstErr
}

// dropStale probes one cached session with a refresh: if the server does
// not know it (a fresh data directory), every cached token is dropped.
func (a *Accounts) dropStale(ctx context.Context, accts []*Account) {
	for _, acct := range accts {
		if acct.Refresh == "" {
			continue
		}
		if err := a.refresh(ctx, acct); err != nil {
			a.mu.Lock()
			for _, x := range a.file.Accounts {
				x.mu.Lock()
				x.Token, x.Refresh, x.Expires = "", "", time.Time{}
				x.mu.Unlock()
			}
			a.file.Groups = map[string]string{}
			a.mu.Unlock()
		}
		return
	}
}

func (a *Accounts) ensureOne(ctx context.Context, acct *Account, minValid time.Duration) error {
	acct.mu.Lock()
	ok := acct.Token != "" && time.Until(acct.Expires) > minValid
	hasRefresh := acct.Refresh != ""
	acct.mu.Unlock()
	if ok {
		return nil
	}
	if hasRefresh && a.refresh(ctx, acct) == nil {
		return nil
	}
	return a.login(ctx, acct)
}

// Reauth gets a new access token for an account whose token old was
// refused: refresh, else log in, else register and log in. Concurrent
// calls for one account renew it once (a refresh token presented twice
// would end the session).
func (a *Accounts) Reauth(ctx context.Context, acct *Account, old string) error {
	acct.reauth.Lock()
	defer acct.reauth.Unlock()
	if acct.AccessToken() != old {
		return nil // renewed meanwhile
	}
	if a.refresh(ctx, acct) == nil {
		return nil
	}
	return a.login(ctx, acct)
}

func (a *Accounts) refresh(ctx context.Context, acct *Account) error {
	acct.mu.Lock()
	rt := acct.Refresh
	acct.mu.Unlock()
	if rt == "" {
		return errors.New("no refresh token")
	}
	t, err := a.API.Refresh(ctx, rt)
	if err != nil {
		return err
	}
	acct.set(t)
	return nil
}

// login logs in, registering the account first if the server does not
// know it.
func (a *Accounts) login(ctx context.Context, acct *Account) error {
	t, err := a.API.Login(ctx, acct.Username, acct.Password)
	var ae *client.APIError
	if errors.As(err, &ae) && ae.Status == http.StatusUnauthorized {
		if err := a.API.Register(ctx, acct.Username, acct.Password); err != nil {
			if !errors.As(err, &ae) || ae.Status != http.StatusConflict {
				return fmt.Errorf("register: %w", err)
			}
		}
		t, err = a.API.Login(ctx, acct.Username, acct.Password)
	}
	if err != nil {
		return fmt.Errorf("login: %w", err)
	}
	acct.set(t)
	return nil
}

func (acct *Account) set(t *client.Tokens) {
	acct.mu.Lock()
	acct.Token, acct.Refresh = t.Token, t.RefreshToken
	acct.Expires = time.Now().Add(time.Duration(t.ExpiresIn) * time.Second)
	acct.mu.Unlock()
}

// Names returns n usernames prefix_role<i>, i from 0.
func Names(prefix, role string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s_%s%d", prefix, role, i)
	}
	return out
}
