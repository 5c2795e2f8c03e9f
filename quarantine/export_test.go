package quarantine

// Traced is traced, for the tests.
var Traced = traced
