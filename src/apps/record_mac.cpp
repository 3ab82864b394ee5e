// The canonical form of an app record for its MAC, and making and checking the MAC.
#include "apps/record_mac.h"

#include "crypto/secret.h"

namespace herald::apps {
namespace {

constexpr std::string_view kPurpose = "apps/record";
constexpr std::string_view kVersion = "v1:";

// name=<length>:<value>\n — the length makes the form unambiguous whatever the value holds.
class Canonical {
 public:
  void field(std::string_view name, std::string_view value) {
    out_.append(name);
    out_.push_back('=');
    out_.append(std::to_string(value.size()));
    out_.push_back(':');
    out_.append(value);
    out_.push_back('\n');
  }
  void field(std::string_view name, std::int64_t value) { field(name, std::to_string(value)); }
  // A column added after record MACs: absent from the form while it holds the default its
  // migration gave existing rows.
  void added_field(std::string_view name, std::string_view value, std::string_view migration_default) {
    if (value != migration_default) field(name, value);
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

}  // namespace

std::string mac_input(const store::AppRecord& r) {
  Canonical c;
  c.field("id", r.id);
  c.field("key", r.key);
  c.field("name", r.name);
  c.field("status", r.status);
  c.field("created_ms", r.created_ms);
  c.field("client_secret", r.client_secret_sealed);
  c.field("client_public_keys", r.client_public_keys_json);
  c.field("jwt_audience", r.jwt_audience);
  c.field("jwt_issuer", r.jwt_issuer);
  c.field("require_exp", r.require_exp ? 1 : 0);
  c.field("app_secrets", r.app_secrets_json);
  c.field("scopes", r.scopes);
  c.field("namespaces", r.namespaces);
  c.field("allowed_cidrs", r.allowed_cidrs);
  c.field("rate_limit", static_cast<std::int64_t>(r.rate_limit));
  // Columns added later go here, e.g.: c.added_field("jwt_max_ttl", std::to_string(r.jwt_max_ttl), "0");
  return c.take();
}

Result<std::string> record_mac(kms::Sealer& sealer, const store::AppRecord& r) {
  auto tag = sealer.mac(r.id, kPurpose, mac_input(r));
  if (!tag) return tag.error();
  return std::string(kVersion) + *tag;
}

Status verify_record_mac(kms::Sealer& sealer, const store::AppRecord& r) {
  if (r.record_mac.empty()) return make_error(Errc::kStoreError, "mac_missing");
  auto expected = record_mac(sealer, r);
  if (!expected) return expected.error();
  if (!crypto::ct_equal(*expected, r.record_mac)) return make_error(Errc::kStoreError, "mac_mismatch");
  return ok_status();
}

}  // namespace herald::apps
