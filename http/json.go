package http

import (
	"encoding/json"
	"errors"
	"log/slog"
	"mime"
	"net/http"
	"time"

	"github.com/parley-chat/parley"
)

// MaxBodyBytes bounds request bodies.
const MaxBodyBytes = 64 << 10

// DefaultBodyTimeout is how long a request body may take to arrive when
// Server.BodyTimeout is zero.
const DefaultBodyTimeout = 10 * time.Second

// statusOf maps a domain error code to an HTTP status.
var statusOf = map[string]int{
	parley.EINVALID:      http.StatusBadRequest,
	parley.EUNAUTHORIZED: http.StatusUnauthorized,
	parley.EFORBIDDEN:    http.StatusForbidden,
	parley.ENOTFOUND:     http.StatusNotFound,
	parley.ECONFLICT:     http.StatusConflict,
	parley.ERATELIMITED:  http.StatusTooManyRequests,
	parley.ETOOLARGE:     http.StatusBadRequest, // the contract: a too-large body is a 400
	parley.EUNAVAILABLE:  http.StatusServiceUnavailable,
	parley.EINTERNAL:     http.StatusInternalServerError,
}

// StatusOf returns the HTTP status for err.
func StatusOf(err error) int { return statusOf[parley.ErrorCode(err)] }

// writeError answers with {"error", "code"}; internal errors are logged
// with their cause and shown as a plain message.
func writeError(w http.ResponseWriter, log *slog.Logger, err error) {
	code := parley.ErrorCode(err)
	if code == parley.EINTERNAL || code == parley.EUNAVAILABLE {
		log.Error("request failed", "err", err)
	}
	if code == parley.EUNAVAILABLE && w.Header().Get("Retry-After") == "" {
		// Unavailable is passing (a full disk, a store that is down):
		// clients come back later rather than at once.
		w.Header().Set("Retry-After", "5")
	}
	writeJSON(w, statusOf[code], map[string]string{"error": parley.ErrorMessage(err), "code": code})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// readJSON decodes a JSON object body of at most MaxBodyBytes. Unknown
// fields are ignored.
func readJSON(w http.ResponseWriter, r *http.Request, v any) error {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return parley.Errorf(parley.EINVALID, "Content-Type must be application/json")
	}
	r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return parley.Errorf(parley.ETOOLARGE, "body larger than %d bytes", MaxBodyBytes)
		}
		return parley.Errorf(parley.EINVALID, "body is not a valid JSON object")
	}
	if dec.More() {
		return parley.Errorf(parley.EINVALID, "body must hold one JSON object")
	}
	return nil
}
