package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/parley-chat/parley/client"
	"github.com/parley-chat/parley/cmd/parley/internal/tui"
)

// cmdChat runs the full-screen client until the user quits or the session
// ends.
func cmdChat(ctx context.Context, args []string, e *env) error {
	fs, cf := newFlags("chat", "", e)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return fmt.Errorf("%w: chat takes no arguments", errUsage)
	}
	store, err := openStore(e)
	if err != nil {
		return err
	}
	creds, err := store.get(cf.server)
	if err != nil {
		return err
	}
	api := client.New(cf.server)
	tokens := &storedTokens{store: store, server: cf.server, api: api, now: time.Now}
	sess := &client.Session{Client: api, Tokens: tokens}
	model := tui.New(tui.Options{Username: creds.Username, Server: cf.server, Sender: sess, FindUsers: finder(api, tokens)})

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	prog := tea.NewProgram(model, tea.WithContext(ctx))
	events := make(chan client.Event, 256)
	done := make(chan struct{})
	go func() {
		defer close(done)
		sess.Run(ctx, events)
	}()
	go func() {
		for {
			select {
			case ev := <-events:
				prog.Send(ev)
			case <-ctx.Done():
				return
			}
		}
	}()
	_, err = prog.Run()
	sess.Close() // DISCONNECT: the server closes with 1000
	cancel()
	<-done
	if model.Ended != nil {
		if r := tokens.lastRefresh(); r != "" && errors.Is(model.Ended, client.ErrSessionEnded) {
			store.remove(cf.server, r) // unless a new login replaced them
		}
		if errors.Is(model.Ended, client.ErrSessionEnded) {
			return errors.New("the session has ended (logged out, revoked or the account disabled): log in again with parley login")
		}
		return fmt.Errorf("the session ended: %w", model.Ended)
	}
	if err != nil && !errors.Is(err, tea.ErrProgramKilled) && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// finder is the lookup behind /find: GET /users with the session's
// access token.
func finder(api *client.Client, tokens client.TokenSource) func(string) ([]string, error) {
	return func(prefix string) ([]string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		token, err := tokens.Token(ctx)
		if err != nil {
			return nil, err
		}
		return api.FindUsers(ctx, token, prefix, 20)
	}
}
