// The PostgreSQL store's verification-code tables (store/otp_records.h).
#include "store/postgres/bulk_tables.h"
#include "store/postgres/postgres_store.h"

namespace herald::store {

Result<std::vector<OtpVerificationRecord>> PostgresStore::load_otp_verifications(std::int64_t now_ms) {
  return readers_.acquire().query(
      "SELECT id, app_id, sealed, purge_ms FROM otp_verifications WHERE purge_ms >= $1;", pg::params(now_ms),
      [](const pg::Row& r) {
        return OtpVerificationRecord{r.bytes(0), r.bytes(1), r.bytes(2), r.i64(3)};
      },
      "load_otp_verifications");
}

Result<std::vector<OtpCounterRecord>> PostgresStore::load_otp_counters(std::int64_t now_ms) {
  return readers_.acquire().query(
      "SELECT key, window_start_ms, count, expires_ms FROM otp_counters WHERE expires_ms > $1;", pg::params(now_ms),
      [](const pg::Row& r) {
        return OtpCounterRecord{r.bytes(0), r.i64(1), static_cast<std::uint64_t>(r.i64(2)), r.i64(3)};
      },
      "load_otp_counters");
}

Result<std::vector<OtpBlockRecord>> PostgresStore::load_otp_blocklist() {
  return readers_.acquire().query(
      "SELECT app_id, recipient_index, sealed, created_ms FROM otp_blocklist;", pg::Params{},
      [](const pg::Row& r) {
        return OtpBlockRecord{r.bytes(0), r.bytes(1), r.bytes(2), r.i64(3)};
      },
      "load_otp_blocklist");
}

void PostgresStore::put_otp_verification(OtpVerificationRecord v, std::vector<OtpCounterRecord> counters,
                                         Completion done) {
  submit(
      [v = std::move(v), counters = std::move(counters)](pg::WriteTx& tx) -> Status {
        tx.insert(pg::kOtpVerificationRows, pg::cells(v.id, v.app_id, v.sealed, v.purge_ms));
        for (const auto& k : counters)
          tx.insert(pg::kOtpCounterRows, pg::cells(k.key, k.window_start_ms, k.count, k.expires_ms));
        return ok_status();
      },
      std::move(done));
}

void PostgresStore::purge_otp(std::int64_t now_ms, Completion done) {
  submit(
      [now_ms](pg::WriteTx& tx) -> Status {
        tx.run("DELETE FROM otp_verifications WHERE purge_ms < $1;", pg::params(now_ms));
        tx.run("DELETE FROM otp_counters WHERE expires_ms <= $1;", pg::params(now_ms));
        return ok_status();
      },
      std::move(done));
}

void PostgresStore::put_otp_block(OtpBlockRecord b, Completion done) {
  submit(
      [b = std::move(b)](pg::WriteTx& tx) -> Status {
        tx.run(
            "INSERT INTO otp_blocklist(app_id, recipient_index, sealed, created_ms) VALUES ($1, $2, $3, $4) "
            "ON CONFLICT (app_id, recipient_index) DO UPDATE SET sealed = excluded.sealed, "
            "created_ms = excluded.created_ms;",
            pg::params(b.app_id, b.recipient_index, b.sealed, b.created_ms));
        return ok_status();
      },
      std::move(done));
}

void PostgresStore::delete_otp_block(std::string app_id, std::string recipient_index, Completion done) {
  submit(
      [app_id = std::move(app_id), recipient_index = std::move(recipient_index)](pg::WriteTx& tx) -> Status {
        tx.run("DELETE FROM otp_blocklist WHERE app_id = $1 AND recipient_index = $2;",
               pg::params(app_id, recipient_index));
        return ok_status();
      },
      std::move(done));
}

}  // namespace herald::store
