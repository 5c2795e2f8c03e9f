package quarantine

// schemaVersion is the quarantine index's version. 1: entries with the
// whole record as JSON (SQLite only); 2: state, claim, size and host as
// columns (portable updates), the audit trail, and on PostgreSQL the
// message chunks; 3: the quota's running total (quota, one row, updated
// in each entry's transaction) and, on PostgreSQL, an entry's commit
// refused after the
// deadline its transaction names (Store.commitBy), and a released or
// deleted entry never made held or releasing again (whoever may update
// its state: docs/postgres.md).
const schemaVersion = 3

var sqliteMigrations = map[int]string{
	1: `CREATE TABLE IF NOT EXISTS entries (id TEXT PRIMARY KEY, t INTEGER NOT NULL, user TEXT NOT NULL, state TEXT NOT NULL, rec TEXT NOT NULL);
		CREATE INDEX IF NOT EXISTS entries_t ON entries (t)`,
	2: `ALTER TABLE entries RENAME COLUMN user TO account;
		ALTER TABLE entries ADD COLUMN size INTEGER NOT NULL DEFAULT 0;
		ALTER TABLE entries ADD COLUMN claim TEXT;
		ALTER TABLE entries ADD COLUMN host TEXT NOT NULL DEFAULT '';
		UPDATE entries SET size = COALESCE(json_extract(rec, '$.size'), 0), claim = json_extract(rec, '$.release');
		CREATE TABLE audit (t INTEGER NOT NULL, host TEXT NOT NULL, operator TEXT NOT NULL, action TEXT NOT NULL, id TEXT NOT NULL, outcome TEXT NOT NULL);
		CREATE INDEX audit_t ON audit (t)`,
	3: quotaSchema,
}

// quotaSchema is the quota's running total, from the entries kept.
const quotaSchema = `CREATE TABLE quota (id INTEGER PRIMARY KEY CHECK (id = 1), entries BIGINT NOT NULL, bytes BIGINT NOT NULL);
	INSERT INTO quota (id, entries, bytes) SELECT 1, COUNT(*), COALESCE(SUM(size), 0) FROM entries WHERE state != 'deleted';`

// Version 1 was SQLite-only, so PostgreSQL starts at 2.
var postgresMigrations = map[int]string{
	2: `CREATE TABLE entries (id TEXT PRIMARY KEY, t BIGINT NOT NULL, account TEXT NOT NULL, state TEXT NOT NULL, size BIGINT NOT NULL, claim TEXT, host TEXT NOT NULL, rec TEXT NOT NULL);
		CREATE INDEX entries_t ON entries (t);
		CREATE TABLE chunks (id TEXT NOT NULL, n INTEGER NOT NULL, data BYTEA NOT NULL, PRIMARY KEY (id, n));
		ALTER TABLE chunks ALTER COLUMN data SET STORAGE EXTERNAL;
		CREATE TABLE audit (t BIGINT NOT NULL, host TEXT NOT NULL, operator TEXT NOT NULL, action TEXT NOT NULL, id TEXT NOT NULL, outcome TEXT NOT NULL);
		CREATE INDEX audit_t ON audit (t)`,
	// A deferred constraint trigger runs at COMMIT, on the server's clock.
	3: quotaSchema + `CREATE FUNCTION outguard_commit_by() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			IF COALESCE(current_setting('outguard.commit_by', true), '') <> ''
				AND FLOOR(EXTRACT(EPOCH FROM clock_timestamp()) * 1000) > current_setting('outguard.commit_by')::bigint THEN
				RAISE EXCEPTION 'outguard: the commit came after its deadline';
			END IF;
			RETURN NULL;
		END $$;
		CREATE CONSTRAINT TRIGGER entries_commit_by AFTER INSERT ON entries DEFERRABLE INITIALLY DEFERRED
			FOR EACH ROW EXECUTE FUNCTION outguard_commit_by();
		CREATE FUNCTION outguard_entry_state() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			IF OLD.state IN ('released', 'deleted') AND NEW.state <> OLD.state AND NEW.state <> 'deleted' THEN
				RAISE EXCEPTION 'outguard: entry % is %: it cannot become %', OLD.id, OLD.state, NEW.state;
			END IF;
			RETURN NEW;
		END $$;
		CREATE TRIGGER entries_state BEFORE UPDATE OF state ON entries
			FOR EACH ROW EXECUTE FUNCTION outguard_entry_state()`,
}
