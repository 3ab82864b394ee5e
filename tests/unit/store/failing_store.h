// A Store that passes everything to a real one except the writes a test makes fail: the
// store fault of S7 (a disk that refuses the write of a new app's keys).
#pragma once

#include <atomic>

#include "store/store.h"

namespace herald::store::testing {

class FailingKmsStore final : public Store, public KmsRecords {
 public:
  explicit FailingKmsStore(Store& real) : real_(real) {}
  std::atomic<bool> fail_key_inserts{false};

  int schema_version() override { return real_.schema_version(); }
  void put_meta(std::string key, std::string value, Completion done) override {
    real_.put_meta(std::move(key), std::move(value), std::move(done));
  }
  Result<std::optional<std::string>> get_meta(std::string_view key) override { return real_.get_meta(key); }
  bool healthy() override { return real_.healthy(); }
  StoreStats stats() override { return real_.stats(); }
  void close() override { real_.close(); }
  AppRecords& apps() override { return real_.apps(); }
  KmsRecords& kms() override { return *this; }
  AuditRecords& audit() override { return real_.audit(); }
  OtpRecords& otp() override { return real_.otp(); }
  MessageRecords& messages() override { return real_.messages(); }
  NonceRecords& nonces() override { return real_.nonces(); }

  Result<std::vector<KmsKeyRecord>> load_kms_keys() override { return real_.kms().load_kms_keys(); }
  Result<std::vector<KmsVersionRecord>> load_kms_versions() override { return real_.kms().load_kms_versions(); }
  void insert_kms_key(KmsKeyRecord key, KmsVersionRecord first, Completion done) override {
    // Failed the way the writer fails a batch it cannot commit, and from its thread.
    if (fail_key_inserts)
      return real_.put_meta("failing-store-probe", "x", [done = std::move(done)](Status) {
        done(make_error(Errc::kStoreUnavailable, "the store could not commit the write"));
      });
    real_.kms().insert_kms_key(std::move(key), std::move(first), std::move(done));
  }
  void add_kms_version(KmsVersionRecord version, Completion done) override {
    real_.kms().add_kms_version(std::move(version), std::move(done));
  }
  void update_kms_key(KmsKeyChange change, Completion done) override {
    real_.kms().update_kms_key(std::move(change), std::move(done));
  }
  void delete_kms_key(std::string app_id, std::string name, Completion done) override {
    real_.kms().delete_kms_key(std::move(app_id), std::move(name), std::move(done));
  }

 private:
  Store& real_;
};

}  // namespace herald::store::testing
