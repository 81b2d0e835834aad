package parley

import "sync"

// KnownNames remembers usernames known to exist, and the names of the
// accounts deleted since the process started, which never come back: a
// name is never registered again. Stores use it to answer "does this user
// exist" without a query; only a deletion makes a positive answer stale,
// and a store that shares its database with other processes says what
// that means for them. The zero value is ready to use.
type KnownNames struct{ m, gone sync.Map }

// Has reports whether name is remembered as an existing account.
func (k *KnownNames) Has(name string) bool { _, ok := k.m.Load(name); return ok }

// Add remembers name, unless it was deleted. It stores first and checks
// gone after, and Forget does the reverse, so that a reader that found
// the account just before its deletion never leaves it remembered.
func (k *KnownNames) Add(name string) {
	k.m.Store(name, struct{}{})
	if _, gone := k.gone.Load(name); gone {
		k.m.Delete(name)
	}
}

// Forget marks name deleted, for good.
func (k *KnownNames) Forget(name string) {
	k.gone.Store(name, struct{}{})
	k.m.Delete(name)
}
