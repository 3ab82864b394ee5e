// What key_service.cpp and key_changes.cpp share and nothing else uses: a key as held in
// memory, and the associated data that binds wrapped keys and ciphertexts.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <map>
#include <string>
#include <string_view>

#include "crypto/secret.h"
#include "kms/key_service.h"
#include "store/kms_records.h"

namespace herald::kms {

struct KeyService::Key {
  store::KmsKeyRecord rec;
  std::map<std::uint32_t, crypto::SecretBytes> material;
  std::map<std::uint32_t, std::int64_t> created;

  KeyInfo info() const {
    KeyInfo i{rec.name,
              rec.kind,
              rec.latest_version,
              rec.min_decryption_version,
              rec.exportable,
              rec.deletion_allowed,
              rec.created_ms,
              rec.delete_after_ms,
              {}};
    for (const auto& [v, t] : created) i.versions.push_back(KeyVersionInfo{v, t});
    return i;
  }
};

namespace detail {

constexpr std::string_view kAes = "aes256-gcm";

inline std::string join0(std::initializer_list<std::string_view> parts) {
  std::string out;
  for (auto p : parts) {
    out.append(p);
    out.push_back('\0');
  }
  return out;
}

inline std::string wrap_aad(std::string_view app, std::string_view name, std::uint32_t version) {
  return join0({"herald-kms-wrap", app, name, std::to_string(version)});
}

}  // namespace detail
}  // namespace herald::kms
