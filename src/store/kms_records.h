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
  std::int64_t delete_after_ms = 0;  // 0: live; else a tombstone, deleted for good from then on
};

struct KmsVersionRecord {
  std::string app_id;
  std::string name;
  std::uint32_t version = 0;
  std::string wrapped;
  std::int64_t created_ms = 0;
};

// A key's settings, as a change found them.
struct KmsKeySettings {
  std::uint32_t min_decryption_version = 1;
  bool exportable = false;
  bool deletion_allowed = false;
  std::int64_t delete_after_ms = 0;
};

// A change to a key's settings: only the fields given are written, so two changes to
// different fields never undo each other whatever order they land in.
struct KmsKeyChange {
  std::string app_id;
  std::string name;
  std::optional<std::uint32_t> min_decryption_version;
  std::optional<bool> exportable;
  std::optional<bool> deletion_allowed;
  std::optional<std::int64_t> delete_after_ms;
  // When set, the change is written only while the key's settings are still these (what
  // it was decided on), else "conflict": another node changed the key meanwhile.
  std::optional<KmsKeySettings> expected;
};

class KmsRecords {
 public:
  virtual ~KmsRecords() = default;
  virtual Result<std::vector<KmsKeyRecord>> load_kms_keys() = 0;
  virtual Result<std::vector<KmsVersionRecord>> load_kms_versions() = 0;
  // A new key with its first version, in one write; "conflict" if the key exists.
  virtual void insert_kms_key(KmsKeyRecord key, KmsVersionRecord first, Completion done) = 0;
  // Adds version N of an existing key and moves its latest_version from N-1 to N, in one
  // write; "conflict" if the key's latest version is not N-1 or version N exists, "not_found"
  // if there is no such key.
  virtual void add_kms_version(KmsVersionRecord version, Completion done) = 0;
  // Writes the fields `change` names; "not_found" if there is no such key, "conflict" if
  // `change.expected` is set and the key's settings differ from it.
  virtual void update_kms_key(KmsKeyChange change, Completion done) = 0;
  // Deletes the key and all its versions.
  virtual void delete_kms_key(std::string app_id, std::string name, Completion done) = 0;
};

}  // namespace herald::store
