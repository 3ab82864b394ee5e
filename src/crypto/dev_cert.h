// The development certificate that `serve --dev` makes when none is configured:
// a self-signed P-256 certificate for localhost, 127.0.0.1 and ::1.
#pragma once

#include <string>

#include "core/result.h"

namespace herald::crypto {

struct CertPaths {
  std::string cert;
  std::string key;
};

// Writes <dir>/dev-cert.pem and <dir>/dev-key.pem (0600) unless a valid, unexpired pair
// is already there; returns their paths.
Result<CertPaths> ensure_dev_certificate(const std::string& dir);

}  // namespace herald::crypto
