package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/parley-chat/parley/client"
)

// cmdRegister creates an account and logs in with it.
func cmdRegister(ctx context.Context, args []string, e *env) error {
	fs, cf := newFlags("register", "[--password-stdin] [USERNAME]", e)
	fromStdin := fs.Bool("password-stdin", false, "read the password from the first line of standard input")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	p := newPrompter(e, *fromStdin)
	name, err := p.username(pos)
	if err != nil {
		return err
	}
	pw, err := p.password(true)
	if err != nil {
		return err
	}
	api := client.New(cf.server)
	if err := api.Register(ctx, name, pw); err != nil {
		return fmt.Errorf("registering %s: %w", name, describe(err))
	}
	if err := login(ctx, api, cf.server, name, pw, e); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "registered and logged in as %s on %s\n", name, cf.server)
	return nil
}

// cmdLogin logs in and stores the session's tokens.
func cmdLogin(ctx context.Context, args []string, e *env) error {
	fs, cf := newFlags("login", "[--password-stdin] [USERNAME]", e)
	fromStdin := fs.Bool("password-stdin", false, "read the password from the first line of standard input")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	p := newPrompter(e, *fromStdin)
	name, err := p.username(pos)
	if err != nil {
		return err
	}
	pw, err := p.password(false)
	if err != nil {
		return err
	}
	if err := login(ctx, client.New(cf.server), cf.server, name, pw, e); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "logged in as %s on %s\n", name, cf.server)
	return nil
}

func login(ctx context.Context, api *client.Client, server, name, pw string, e *env) error {
	t, err := api.Login(ctx, name, pw)
	if err != nil {
		return fmt.Errorf("logging in as %s: %w", name, describe(err))
	}
	if t.Username == "" {
		t.Username = name
	}
	store, err := openStore(e)
	if err != nil {
		return err
	}
	old, _ := store.get(server)
	if err := store.put(server, newCredentials(t, time.Now())); err != nil {
		return fmt.Errorf("saving the tokens: %w", err)
	}
	if old != nil {
		// The previous session of this server is replaced: end it.
		api.Logout(ctx, old.Token)
	}
	return nil
}

// cmdLogout ends the session on the server and forgets its tokens.
func cmdLogout(ctx context.Context, args []string, e *env) error {
	fs, cf := newFlags("logout", "", e)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return fmt.Errorf("%w: logout takes no arguments", errUsage)
	}
	store, err := openStore(e)
	if err != nil {
		return err
	}
	c, err := store.get(cf.server)
	if err != nil {
		return err
	}
	api := client.New(cf.server)
	src := &storedTokens{store: store, server: cf.server, api: api, now: time.Now}
	token, err := src.Token(ctx)
	if err == nil {
		err = api.Logout(ctx, token)
	}
	var ae *client.APIError
	switch {
	case err == nil:
		fmt.Fprintf(e.stdout, "logged out %s from %s\n", c.Username, cf.server)
	case errors.Is(err, client.ErrSessionEnded), errors.As(err, &ae) && ae.Status == http.StatusUnauthorized:
		fmt.Fprintf(e.stdout, "the session of %s on %s had already ended\n", c.Username, cf.server)
	default:
		return fmt.Errorf("logging out: %w (the tokens are kept; try again)", describe(err))
	}
	return store.remove(cf.server, "")
}

// describe makes an API error readable.
func describe(err error) error {
	var ae *client.APIError
	if errors.As(err, &ae) && ae.Message != "" {
		return fmt.Errorf("%s (HTTP %d)", ae.Message, ae.Status)
	}
	return err
}
