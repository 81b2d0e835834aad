-- A refresh token names the one it was rotated from (parent), so that the
-- last rotation can be retried when its answer was lost; the token such a
-- retry replaces before its client ever used it gets retired_at, and
-- presenting it counts as theft.
ALTER TABLE refresh_tokens ADD COLUMN parent TEXT;
ALTER TABLE refresh_tokens ADD COLUMN retired_at INTEGER;
