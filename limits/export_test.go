package limits

// For the external tests: the PostgreSQL migrations and the schema's
// version (ogadmit_test.go).
var PostgresMigrations = postgresMigrations

const SchemaVersion = schemaVersion
