package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Client talks to one Parley server.
type Client struct {
	// BaseURL is the HTTP listener, e.g. "http://127.0.0.1:3000".
	BaseURL string
	// HTTP is the client for API calls (default http.DefaultClient).
	HTTP *http.Client
}

// New returns a client of the server at baseURL.
func New(baseURL string) *Client {
	return &Client{BaseURL: strings.TrimRight(baseURL, "/"), HTTP: http.DefaultClient}
}

// Tokens are what login and refresh return.
type Tokens struct {
	Token        string `json:"token"`
	RefreshToken string `json:"refreshToken"`
	Username     string `json:"username"`
	ExpiresIn    int    `json:"expiresIn"`
}

// APIError is an error answer of the HTTP API.
type APIError struct {
	Status  int
	Code    string `json:"code"`
	Message string `json:"error"`
}

func (e *APIError) Error() string {
	return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message)
}

// Register creates an account.
func (c *Client) Register(ctx context.Context, username, password string) error {
	return c.post(ctx, "/auth/register", "", map[string]string{"username": username, "password": password}, nil)
}

// Login opens a session.
func (c *Client) Login(ctx context.Context, username, password string) (*Tokens, error) {
	var t Tokens
	if err := c.post(ctx, "/auth/login", "", map[string]string{"username": username, "password": password}, &t); err != nil {
		return nil, err
	}
	return &t, nil
}

// Refresh rotates a refresh token.
func (c *Client) Refresh(ctx context.Context, refreshToken string) (*Tokens, error) {
	var t Tokens
	if err := c.post(ctx, "/auth/refresh", "", map[string]string{"refreshToken": refreshToken}, &t); err != nil {
		return nil, err
	}
	return &t, nil
}

// Logout ends the session of an access token.
func (c *Client) Logout(ctx context.Context, token string) error {
	return c.post(ctx, "/auth/logout", token, nil, nil)
}

// DeleteAccount deletes the account of an access token, which takes its
// password too. The account's sockets close (1008); its name stays
// reserved and its messages are kept.
func (c *Client) DeleteAccount(ctx context.Context, token, password string) error {
	return c.do(ctx, http.MethodDelete, "/auth/account", token, map[string]string{"password": password}, nil)
}

// FindUsers lists up to limit usernames that start with prefix (the
// server's default when limit is 0), for a signed-in user.
func (c *Client) FindUsers(ctx context.Context, token, prefix string, limit int) ([]string, error) {
	q := url.Values{"prefix": {prefix}}
	if limit != 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var out struct {
		Users []string `json:"users"`
	}
	if err := c.do(ctx, http.MethodGet, "/users?"+q.Encode(), token, nil, &out); err != nil {
		return nil, err
	}
	return out.Users, nil
}

func (c *Client) post(ctx context.Context, path, token string, body, out any) error {
	return c.do(ctx, http.MethodPost, path, token, body, out)
}

func (c *Client) do(ctx context.Context, method, path, token string, body, out any) error {
	var rd io.Reader = http.NoBody
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.BaseURL+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		e := &APIError{Status: resp.StatusCode}
		if json.Unmarshal(data, e) != nil || e.Code == "" {
			e.Message = strings.TrimSpace(string(data))
		}
		return e
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}

// WebSocketURL returns the ws:// or wss:// URL of an endpoint ("chat" or
// "presence") on the HTTP listener.
func (c *Client) WebSocketURL(endpoint string) (string, error) {
	u, err := url.Parse(c.BaseURL)
	if err != nil {
		return "", err
	}
	switch u.Scheme {
	case "https":
		u.Scheme = "wss"
	default:
		u.Scheme = "ws"
	}
	u.Path = strings.TrimRight(u.Path, "/") + "/ws/" + endpoint
	return u.String(), nil
}
