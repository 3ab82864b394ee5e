// Keys of the key management service as the store keeps them: only wrapped (AES-256-GCM
// under the root key, which the store never sees).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"

namespace herald::store {

using Completion = std::function<void(Status)>;

struct KmsKeyRecord {
  std::string app_id;  // "_system" for the service's own keys
  std::string name;
  std::string kind;  // "aes256-gcm" or "ed25519"
  std::uint32_t latest_version = 0;
  std::uint32_t min_decryption_version = 1;
  bool exportable = false;
  bool deletion_allowed = false;
  std::int64_t created_ms = 0;
};

struct KmsVersionRecord {
  std::string app_id;
  std::string name;
  std::uint32_t version = 0;
  std::string wrapped;
  std::int64_t created_ms = 0;
};

class KmsRecords {
 public:
  virtual ~KmsRecords() = default;
  virtual Result<std::vector<KmsKeyRecord>> load_kms_keys() = 0;
  virtual Result<std::vector<KmsVersionRecord>> load_kms_versions() = 0;
  // Writes the key's record and, when given, a new version, in one write.
  virtual void put_kms_key(KmsKeyRecord key, std::optional<KmsVersionRecord> version, Completion done) = 0;
  // Deletes the key and all its versions.
  virtual void delete_kms_key(std::string app_id, std::string name, Completion done) = 0;
};

}  // namespace herald::store
