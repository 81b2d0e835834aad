package ratelimit

import (
	"testing"
	"time"
)

func TestKeyed(t *testing.T) {
	now := time.Unix(1000, 0)
	k := NewKeyed(2, 4)
	k.now = func() time.Time { return now }
	for i := 0; i < 4; i++ {
		if ok, _ := k.Allow("alice"); !ok {
			t.Fatalf("burst token %d refused", i)
		}
	}
	ok, wait := k.Allow("alice")
	if ok || wait <= 0 || wait > time.Second {
		t.Fatalf("past the burst: got %v, %v", ok, wait)
	}
	if ok, _ := k.Allow("bob"); !ok {
		t.Fatal("keys share a bucket")
	}
	now = now.Add(500 * time.Millisecond)
	if ok, _ := k.Allow("alice"); !ok {
		t.Fatal("no token after refill")
	}
	if !NewKeyed(0, 0).Off() {
		t.Fatal("rate 0 is not off")
	}
	if ok, _ := NewKeyed(0, 0).Allow("x"); !ok {
		t.Fatal("an off limit refused")
	}
}

func TestLockout(t *testing.T) {
	now := time.Unix(1000, 0)
	l := NewLockout(3)
	l.Now = func() time.Time { return now }
	for i := 0; i < 3; i++ {
		if locked, _ := l.Locked("u:alice"); locked {
			t.Fatalf("locked after %d failures", i)
		}
		l.Fail("u:alice", "ip:1")
	}
	locked, wait := l.Locked("u:bob", "ip:1")
	if !locked || wait != time.Minute {
		t.Fatalf("first lock-out: got %v %v, want 1m (by address)", locked, wait)
	}
	now = now.Add(time.Minute)
	l.Fail("u:alice")
	if _, wait := l.Locked("u:alice"); wait != 2*time.Minute {
		t.Fatalf("second lock-out: got %v, want 2m", wait)
	}
	now = now.Add(20 * time.Minute) // the window has passed
	if locked, _ := l.Locked("u:alice"); locked {
		t.Fatal("still locked after the window")
	}
	l.Fail("u:alice")
	if locked, _ := l.Locked("u:alice"); locked {
		t.Fatal("old failures still count")
	}
	off := NewLockout(0)
	off.Fail("x")
	if locked, _ := off.Locked("x"); locked {
		t.Fatal("an off lockout locked")
	}
	if l.Trusted("pair:alice|1") {
		t.Fatal("trusted before Trust")
	}
	l.Trust("pair:alice|1")
	if !l.Trusted("pair:alice|1") || l.Trusted("pair:alice|2") {
		t.Fatal("Trust not kept, or given to another key")
	}
	now = now.Add(31 * 24 * time.Hour)
	if l.Trusted("pair:alice|1") {
		t.Fatal("still trusted after TrustFor")
	}
}
