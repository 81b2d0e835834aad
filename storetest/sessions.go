package storetest

import (
	"testing"
	"time"

	"github.com/parley-chat/parley"
)

func testSessions(t *testing.T, s Accounts) {
	mustUsers(t, s, "alice")
	sess := &parley.Session{ID: "s1", Username: "alice", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	if err := s.CreateSession(ctx, sess, "r1"); err != nil {
		t.Fatalf("create session: %v", err)
	}
	got, err := s.Session(ctx, "s1")
	if err != nil || got.Username != "alice" || !got.Active(t0) || !got.ExpiresAt.Equal(t0.Add(time.Hour)) {
		t.Fatalf("session: got %+v, %v", got, err)
	}
	if _, err := s.Session(ctx, "nope"); code(err) != parley.ENOTFOUND {
		t.Fatalf("unknown session: got %v, want not_found", err)
	}

	t.Run("rotate", func(t *testing.T) {
		later := t0.Add(2 * time.Hour)
		got, err := s.RotateRefresh(ctx, "r1", "r2", t0.Add(time.Minute), later, 0)
		if err != nil || got.ID != "s1" || !got.ExpiresAt.Equal(later) {
			t.Fatalf("rotate: got %+v, %v", got, err)
		}
		if sess, err := s.RotateRefresh(ctx, "unknown", "x", t0, later, 0); code(err) != parley.EUNAUTHORIZED || sess != nil {
			t.Fatalf("unknown token: got %+v, %v, want nil, unauthorized", sess, err)
		}
		// The rotated-out token comes back: theft, the session ends, and the
		// store names it so that its sockets can be closed.
		stolen, err := s.RotateRefresh(ctx, "r1", "r3", t0.Add(2*time.Minute), later, 0)
		if code(err) != parley.EUNAUTHORIZED || stolen == nil || stolen.ID != "s1" || stolen.Username != "alice" {
			t.Fatalf("reused token: got %+v, %v; want session s1 and unauthorized", stolen, err)
		}
		if got, _ := s.Session(ctx, "s1"); got.Active(t0.Add(3 * time.Minute)) {
			t.Fatalf("session still active after refresh token reuse: %+v", got)
		}
		if _, err := s.RotateRefresh(ctx, "r2", "r4", t0.Add(3*time.Minute), later, 0); code(err) != parley.EUNAUTHORIZED {
			t.Fatalf("current token of a revoked session: got %v, want unauthorized", err)
		}
	})

	t.Run("retry within the grace", func(t *testing.T) {
		const grace = 30 * time.Second
		later := t0.Add(2 * time.Hour)
		at := func(d time.Duration) time.Time { return t0.Add(time.Minute + d) }
		rotate := func(old, next string, when time.Time) (*parley.Session, error) {
			return s.RotateRefresh(ctx, old, next, when, later, grace)
		}
		for _, id := range []string{"g1", "g2", "g3"} {
			if err := s.CreateSession(ctx, &parley.Session{ID: id, Username: "alice", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}, id+"-a"); err != nil {
				t.Fatal(err)
			}
		}
		// g1: the answer to a-to-b was lost; a asks again, twice, and
		// gets a new token each time; b and c, retired, are theft.
		if _, err := rotate("g1-a", "g1-b", at(0)); err != nil {
			t.Fatalf("first rotation: %v", err)
		}
		if got, err := rotate("g1-a", "g1-c", at(5*time.Second)); err != nil || got.ID != "g1" || !got.ExpiresAt.Equal(later) {
			t.Fatalf("retry within the grace: got %+v, %v; want session g1", got, err)
		}
		if _, err := rotate("g1-a", "g1-d", at(10*time.Second)); err != nil {
			t.Fatalf("second retry within the grace: %v", err)
		}
		if stolen, err := rotate("g1-c", "g1-e", at(11*time.Second)); code(err) != parley.EUNAUTHORIZED || stolen == nil || stolen.ID != "g1" {
			t.Fatalf("a retired token: got %+v, %v; want session g1 and unauthorized", stolen, err)
		}
		if got, _ := s.Session(ctx, "g1"); got.Active(at(12 * time.Second)) {
			t.Fatalf("session still active after a retired token came back: %+v", got)
		}
		// g2: the new token was used, so the old one coming back is theft
		// even within the grace.
		if _, err := rotate("g2-a", "g2-b", at(0)); err != nil {
			t.Fatal(err)
		}
		if _, err := rotate("g2-b", "g2-c", at(time.Second)); err != nil {
			t.Fatal(err)
		}
		if stolen, err := rotate("g2-a", "g2-x", at(2*time.Second)); code(err) != parley.EUNAUTHORIZED || stolen == nil {
			t.Fatalf("a token two rotations back: got %+v, %v; want the session and unauthorized", stolen, err)
		}
		if _, err := rotate("g2-c", "g2-d", at(3*time.Second)); code(err) != parley.EUNAUTHORIZED {
			t.Fatalf("current token after theft: got %v, want unauthorized", err)
		}
		// g3: past the grace, a retry is theft.
		if _, err := rotate("g3-a", "g3-b", at(0)); err != nil {
			t.Fatal(err)
		}
		if stolen, err := rotate("g3-a", "g3-c", at(grace)); code(err) != parley.EUNAUTHORIZED || stolen == nil {
			t.Fatalf("a retry at the end of the grace: got %+v, %v; want the session and unauthorized", stolen, err)
		}
	})

	t.Run("expired", func(t *testing.T) {
		if err := s.CreateSession(ctx, &parley.Session{ID: "s2", Username: "alice", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}, "e1"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.RotateRefresh(ctx, "e1", "e2", t0.Add(2*time.Hour), t0.Add(3*time.Hour), 0); code(err) != parley.EUNAUTHORIZED {
			t.Fatalf("expired session: got %v, want unauthorized", err)
		}
	})

	t.Run("revoke", func(t *testing.T) {
		for _, id := range []string{"s3", "s4", "s5"} {
			if err := s.CreateSession(ctx, &parley.Session{ID: id, Username: "alice", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}, "tok-"+id); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.RevokeSession(ctx, "s3", t0); err != nil {
			t.Fatalf("revoke: %v", err)
		}
		if err := s.RevokeSession(ctx, "s3", t0); err != nil {
			t.Fatalf("revoke twice: %v", err)
		}
		if got, _ := s.Session(ctx, "s3"); got.RevokedAt.IsZero() {
			t.Fatalf("s3 not revoked")
		}
		ids, err := s.RevokeUserSessions(ctx, "alice", t0)
		if err != nil {
			t.Fatalf("revoke user sessions: %v", err)
		}
		active := map[string]bool{}
		for _, id := range ids {
			active[id] = true
		}
		// s2 has expired but was never revoked, so it may be listed; s1 and
		// s3 were revoked already.
		if !active["s4"] || !active["s5"] || active["s1"] || active["s3"] {
			t.Fatalf("revoke user sessions: got %v, want s4 and s5 but not s1 or s3", ids)
		}
		for _, id := range []string{"s4", "s5"} {
			if got, _ := s.Session(ctx, id); got.RevokedAt.IsZero() {
				t.Fatalf("%s not revoked", id)
			}
		}
	})
}
