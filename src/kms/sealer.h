// Encryption at rest of the small secrets the server must read back (app secrets,
// client JWT secrets, webhook secrets). `associated` binds a ciphertext to its place
// (e.g. "apps/<id>/client_secret"), so a value copied to another row fails to open.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "core/result.h"
#include "crypto/secret.h"

namespace herald::kms {

class Sealer {
 public:
  virtual ~Sealer() = default;
  // Error "sealed" when the key service is sealed.
  virtual Result<std::string> seal(std::string_view app_id, std::string_view plaintext, std::string_view associated) = 0;
  // Error code "decrypt_failed" when the value was changed, moved, or sealed under
  // another key; "sealed" when the key is not available.
  virtual Result<crypto::SecretBytes> open(std::string_view app_id, std::string_view sealed,
                                           std::string_view associated) = 0;
};

}  // namespace herald::kms
