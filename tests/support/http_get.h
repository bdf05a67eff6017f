// File: tests/support/http_get.h
// A minimal blocking HTTP/1.0 GET over a loopback TCP socket, for tests that scrape
// /metrics. Not a general client: no redirects, no chunked encoding, no TLS.
#pragma once

#include <string>

#include "absl/status/statusor.h"

namespace cosched::testing {

// Returns the response body of GET http://127.0.0.1:<port><path> (status 200 only).
absl::StatusOr<std::string> HttpGet(int port, const std::string& path);

}  // namespace cosched::testing
