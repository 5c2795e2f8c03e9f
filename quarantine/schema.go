package quarantine

// schemaVersion is the quarantine index's version. 1: entries with the
// whole record as JSON (SQLite only); 2: state, claim, size and host as
// columns (portable updates), the audit trail, and on PostgreSQL the
// message chunks.
const schemaVersion = 2

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
}

// Version 1 was SQLite-only, so PostgreSQL starts at 2.
var postgresMigrations = map[int]string{
	2: `CREATE TABLE entries (id TEXT PRIMARY KEY, t BIGINT NOT NULL, account TEXT NOT NULL, state TEXT NOT NULL, size BIGINT NOT NULL, claim TEXT, host TEXT NOT NULL, rec TEXT NOT NULL);
		CREATE INDEX entries_t ON entries (t);
		CREATE TABLE chunks (id TEXT NOT NULL, n INTEGER NOT NULL, data BYTEA NOT NULL, PRIMARY KEY (id, n));
		ALTER TABLE chunks ALTER COLUMN data SET STORAGE EXTERNAL;
		CREATE TABLE audit (t BIGINT NOT NULL, host TEXT NOT NULL, operator TEXT NOT NULL, action TEXT NOT NULL, id TEXT NOT NULL, outcome TEXT NOT NULL);
		CREATE INDEX audit_t ON audit (t)`,
}
