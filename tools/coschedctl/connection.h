// File: tools/coschedctl/connection.h
// Where coschedctl finds the scheduler and how it proves who it is, the way kubectl finds its
// cluster: a flag wins; then the environment (COSCHED_SCHEDULER, COSCHED_TLS_CA,
// COSCHED_TLS_CERT, COSCHED_TLS_KEY, COSCHED_TOKEN, COSCHED_INSECURE: the flag parser reads
// them); then the config file
// ($COSCHED_CONFIG, else ~/.config/cosched/config.yaml, if it exists):
//
//   scheduler: 10.0.0.5:7070
//   tls: {ca: /etc/cosched/ca.pem, cert: ~/.cosched/alice.pem, key: ~/.cosched/alice-key.pem}
//   token: 3f9a...        # instead of cert and key
//   insecure: false
//
// and last the defaults: 127.0.0.1:7070 with the certificates `cosched up` writes to
// ./cosched-certs (its CA and its admin client), when that directory exists.
#pragma once

#include "absl/status/status.h"
#include "tools/coschedctl/command.h"

namespace cosched::coschedctl {

// --tls-ca, --tls-cert, --tls-key, --token and --insecure.
void RegisterConnectionFlags(FlagParser& parser, Options& options);

// Fills what the flags left unset from the environment, the config file and the defaults,
// then checks that the result can reach a TLS scheduler (a CA, and a certificate or a token)
// unless insecure. The error names the setting and where it came from.
absl::Status ResolveConnection(Options& options);

}  // namespace cosched::coschedctl
