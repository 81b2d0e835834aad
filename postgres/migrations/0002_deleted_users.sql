-- A deleted account keeps its row, so that its name stays reserved:
-- deleted_at is set, the password hash emptied.
ALTER TABLE users ADD COLUMN deleted_at timestamptz;
