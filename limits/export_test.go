package limits

// For the external tests: the PostgreSQL migrations and the schema's
// version (ogadmit_test.go).
var PostgresMigrations = postgresMigrations

const SchemaVersion = schemaVersion

// StageFunctions is schema version 8's text, for BenchmarkBeginHotAccount's
// baseline (og_begin as it was before schema 13).
var StageFunctions = stageFunctions
