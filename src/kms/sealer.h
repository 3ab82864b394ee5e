// Encryption at rest of the small secrets the server must read back (app secrets,
// client JWT secrets, webhook secrets), and MACs over the plaintext columns next to them.
// `associated` binds a ciphertext to its place (e.g. "apps/<id>/client_secret"), so a
// value copied to another row fails to open.
#pragma once

#include <functional>
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
  virtual Result<std::string> seal(std::string_view app_id, std::string_view plaintext,
                                   std::string_view associated) = 0;
  // Error code "decrypt_failed" when the value was changed, moved, or sealed under
  // another key; "sealed" when the key is not available.
  virtual Result<crypto::SecretBytes> open(std::string_view app_id, std::string_view sealed,
                                           std::string_view associated) = 0;
  // Makes the app's at-rest keys if it has none; `done` hears once they are durable (or
  // the store failed), so nothing is sealed under a key the store may still lose.
  virtual void prepare(std::string_view app_id, std::function<void(Status)> done) = 0;
  // A MAC (hex HMAC-SHA256) of `data` under a key derived for `purpose` from the app's
  // at-rest key: binds plaintext columns to the app the way sealing binds secrets.
  virtual Result<std::string> mac(std::string_view app_id, std::string_view purpose, std::string_view data) = 0;
  // Whether stored records must carry a MAC. False only on an installation made before
  // record MACs, until require_macs() (after the existing records got theirs); the
  // setting is sealed under the root key, so it cannot be turned off in the database.
  virtual bool macs_required() = 0;
  virtual Status require_macs() = 0;
};

}  // namespace herald::kms
