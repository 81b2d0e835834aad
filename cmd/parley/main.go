// Command parley is the terminal client of a Parley chat server.
//
// Usage:
//
//	parley register [USERNAME]      create an account, then log in
//	parley login [USERNAME]         log in and keep the session's tokens
//	parley logout                   end the session and forget its tokens
//	parley chat                     the full-screen chat client
//	parley test basic|group|presence   scripted checks of a server
//
// Every command takes --server URL, the server's HTTP listener (default
// $PARLEY_SERVER, else http://127.0.0.1:3000). Passwords are read from the
// terminal without echo, or from the first line of standard input with
// --password-stdin.
//
// Tokens are kept per server in credentials.json (mode 0600) in
// $PARLEY_CONFIG_DIR, else in the user's configuration directory
// (os.UserConfigDir()/parley: ~/.config/parley on Linux,
// ~/Library/Application Support/parley on macOS). An expired access token
// is refreshed with POST /auth/refresh when it is needed.
//
// `parley chat` shows the conversations (presence dots, unread counts) on
// the left and the messages of the selected one on the right; older
// history loads as you scroll back. Slash commands create, join and leave
// groups (/help lists them). It reconnects by itself, with exponential
// backoff, until the session ends.
//
// `parley test basic`, `parley test group` and `parley test presence`
// register fresh users and check one-to-one messaging, groups, and
// presence, printing each check as it goes; they exit 1 if any fails, so
// they double as smoke tests of a deployment:
//
//	parley test basic --server https://chat.example.com
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

const defaultServer = "http://127.0.0.1:3000"

const usage = `parley is the terminal client of a Parley chat server.

Usage:
  parley register [USERNAME]         create an account, then log in
  parley login [USERNAME]            log in; tokens are kept in the config directory
  parley logout                      end the session and forget its tokens
  parley chat                        the full-screen chat client
  parley test basic                  check one-to-one messages and history
  parley test group                  check groups: create, join, fan-out, leave
  parley test presence               check ONLINE/OFFLINE, by close and by missed pongs

Every command takes --server URL (default $PARLEY_SERVER, else ` + defaultServer + `)
and --profile NAME (default $PARLEY_PROFILE): a profile keeps tokens of its
own, so two users can be logged in to one server from one account, e.g.
  parley --profile bob login bob   (or: parley login bob --profile bob)
  parley chat --profile bob
Tokens are kept in $PARLEY_CONFIG_DIR/credentials.json, default
os.UserConfigDir()/parley; a profile's in profiles/NAME/ under it.
"parley COMMAND -h" shows a command's flags.
`

// env is what a command may use of the process: tests give their own.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	// profile is --profile (else $PARLEY_PROFILE): the tokens of a
	// profile are kept apart from the default ones.
	profile string
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], &env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv})
	stop()
	os.Exit(code)
}

// errUsage is returned for bad command lines (exit status 2).
var errUsage = errors.New("usage")

// run runs one command and returns the exit status.
func run(ctx context.Context, args []string, e *env) int {
	if len(args) == 0 {
		fmt.Fprint(e.stderr, usage)
		return 2
	}
	// --profile may also come before the command.
	for len(args) >= 2 && (args[0] == "--profile" || args[0] == "-profile") {
		e.profile, args = args[1], args[2:]
	}
	if len(args) > 0 {
		if v, ok := strings.CutPrefix(args[0], "--profile="); ok {
			e.profile, args = v, args[1:]
		}
	}
	if len(args) == 0 {
		fmt.Fprint(e.stderr, usage)
		return 2
	}
	var err error
	switch cmd, rest := args[0], args[1:]; cmd {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(e.stdout, usage)
		return 0
	case "register":
		err = cmdRegister(ctx, rest, e)
	case "login":
		err = cmdLogin(ctx, rest, e)
	case "logout":
		err = cmdLogout(ctx, rest, e)
	case "chat":
		err = cmdChat(ctx, rest, e)
	case "test":
		err = cmdTest(ctx, rest, e)
	default:
		fmt.Fprintf(e.stderr, "parley: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	case errors.Is(err, errFailed):
		return 1
	}
	fmt.Fprintf(e.stderr, "parley: %v\n", err)
	return 1
}

// commonFlags is what every command takes.
type commonFlags struct {
	server string
}

// newFlags returns a flag set for a command with --server.
func newFlags(name, args string, e *env) (*flag.FlagSet, *commonFlags) {
	fs := flag.NewFlagSet("parley "+name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	cf := &commonFlags{}
	server := e.getenv("PARLEY_SERVER")
	if server == "" {
		server = defaultServer
	}
	fs.StringVar(&cf.server, "server", server, "the server's HTTP listener (env PARLEY_SERVER)")
	if e.profile == "" {
		e.profile = e.getenv("PARLEY_PROFILE")
	}
	fs.Func("profile", "keep this profile's tokens apart, in profiles/NAME of the config directory (env PARLEY_PROFILE; default: none)", func(v string) error {
		e.profile = v
		return nil
	})
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: parley %s %s\n\nFlags:\n", name, args)
		fs.PrintDefaults()
	}
	return fs, cf
}

// parse parses flags, which may come before or after the positional
// arguments it returns. Errors become errUsage (the flag package has
// printed them).
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, fmt.Errorf("%w: %v", errUsage, err)
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// normServer is the key of a server in the credentials file.
func normServer(s string) string { return strings.TrimRight(s, "/") }
