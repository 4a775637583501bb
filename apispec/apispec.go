// Package apispec holds the OpenAPI 3.1 description of /api/v1
// (openapi.json): served by handlers at /api/v1/openapi.json, every API
// answer of the test suite is validated against it (handlers/apitest), and
// the tests' API client is generated from it (handlers/apiclient).
package apispec

import _ "embed"

// JSON is openapi.json.
//
//go:embed openapi.json
var JSON []byte
