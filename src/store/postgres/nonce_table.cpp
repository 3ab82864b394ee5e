// The PostgreSQL store's replay-nonce table (store/nonce_records.h).
#include "store/postgres/postgres_store.h"

namespace herald::store {

Result<std::vector<NonceRecord>> PostgresStore::load_nonces(std::int64_t now_ms) {
  return readers_.acquire().query(
      "SELECT app_id, nonce, expires_ms FROM api_nonces WHERE expires_ms > $1;", pg::params(now_ms),
      [](const pg::Row& r) {
        return NonceRecord{r.bytes(0), r.bytes(1), r.i64(2)};
      },
      "load_nonces");
}

void PostgresStore::put_nonces(std::vector<NonceRecord> nonces, Completion done) {
  submit(
      [nonces = std::move(nonces)](pg::WriteTx& tx) -> Status {
        for (const auto& n : nonces)
          tx.run(
              "INSERT INTO api_nonces(app_id, nonce, expires_ms) VALUES ($1, $2, $3) "
              "ON CONFLICT (app_id, nonce) DO UPDATE SET "
              "expires_ms = GREATEST(api_nonces.expires_ms, excluded.expires_ms);",
              pg::params(n.app_id, n.nonce, n.expires_ms));
        return ok_status();
      },
      std::move(done));
}

void PostgresStore::purge_nonces(std::int64_t now_ms, Completion done) {
  submit(
      [now_ms](pg::WriteTx& tx) -> Status {
        tx.run("DELETE FROM api_nonces WHERE expires_ms <= $1;", pg::params(now_ms));
        return ok_status();
      },
      std::move(done));
}

}  // namespace herald::store
