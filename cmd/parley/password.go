package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"
)

// prompter reads a username and a password: from the terminal (the
// password without echo), or, with fromStdin, the password from the first
// line of standard input.
type prompter struct {
	e         *env
	fromStdin bool
	in        *bufio.Reader
}

func newPrompter(e *env, fromStdin bool) *prompter {
	return &prompter{e: e, fromStdin: fromStdin, in: bufio.NewReader(e.stdin)}
}

// terminal returns stdin's descriptor when it is a terminal.
func (p *prompter) terminal() (int, bool) {
	f, ok := p.e.stdin.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return 0, false
	}
	return int(f.Fd()), true
}

// username returns the argument, or asks for it on a terminal.
func (p *prompter) username(args []string) (string, error) {
	switch {
	case len(args) == 1:
		return args[0], nil
	case len(args) > 1:
		return "", fmt.Errorf("%w: one username, got %d arguments", errUsage, len(args))
	}
	if _, ok := p.terminal(); !ok || p.fromStdin {
		return "", fmt.Errorf("%w: the username is missing", errUsage)
	}
	fmt.Fprint(p.e.stderr, "username: ")
	name, err := p.line()
	if err != nil {
		return "", err
	}
	if name == "" {
		return "", errors.New("no username given")
	}
	return name, nil
}

// password reads the password; confirm asks twice on a terminal.
func (p *prompter) password(confirm bool) (string, error) {
	if p.fromStdin {
		pw, err := p.line()
		if err != nil {
			return "", fmt.Errorf("reading the password from stdin: %w", err)
		}
		if pw == "" {
			return "", errors.New("empty password on stdin")
		}
		return pw, nil
	}
	fd, ok := p.terminal()
	if !ok {
		return "", errors.New("standard input is not a terminal: pipe the password with --password-stdin")
	}
	read := func(prompt string) (string, error) {
		fmt.Fprint(p.e.stderr, prompt)
		b, err := term.ReadPassword(fd)
		fmt.Fprintln(p.e.stderr)
		return string(b), err
	}
	pw, err := read("password: ")
	if err != nil {
		return "", err
	}
	if confirm {
		again, err := read("password again: ")
		if err != nil {
			return "", err
		}
		if again != pw {
			return "", errors.New("the passwords differ")
		}
	}
	return pw, nil
}

// line reads one line, without its end.
func (p *prompter) line() (string, error) {
	s, err := p.in.ReadString('\n')
	if err != nil && !(errors.Is(err, io.EOF) && s != "") {
		return "", err
	}
	return strings.TrimRight(s, "\r\n"), nil
}
