// The PostgreSQL store's app table (store/app_records.h).
#include "store/postgres/postgres_store.h"

namespace herald::store {
namespace {

AppRecord read_app(const pg::Row& r) {
  AppRecord a;
  a.id = r.bytes(0);
  a.key = r.bytes(1);
  a.name = r.bytes(2);
  a.status = r.bytes(3);
  a.created_ms = r.i64(4);
  a.client_secret_sealed = r.bytes(5);
  a.client_public_keys_json = r.bytes(6);
  a.jwt_audience = r.bytes(7);
  a.jwt_issuer = r.bytes(8);
  a.require_exp = r.boolean(9);
  a.app_secrets_json = r.bytes(10);
  a.scopes = r.bytes(11);
  a.namespaces = r.bytes(12);
  a.allowed_cidrs = r.bytes(13);
  a.rate_limit = static_cast<std::uint32_t>(r.i64(14));
  a.record_mac = r.bytes(15);
  return a;
}

Status none_deleted(const pg::ResultSet& r, const char* what) {
  return r.rows() == 0 ? make_error(Errc::kNotFound, what) : ok_status();
}

}  // namespace

Result<std::vector<AppRecord>> PostgresStore::load_apps() {
  return readers_.acquire().query(
      "SELECT id, key, name, status, created_ms, client_secret, client_public_keys, jwt_audience, jwt_issuer, "
      "require_exp, app_secrets, scopes, namespaces, allowed_cidrs, rate_limit, record_mac FROM apps "
      "ORDER BY created_ms, id;",
      pg::Params{}, read_app, "load_apps");
}

void PostgresStore::put_app(AppRecord app, Completion done) {
  submit(
      [app = std::move(app)](pg::WriteTx& tx) -> Status {
        tx.run(
            "INSERT INTO apps(id, key, name, status, created_ms, client_secret, client_public_keys, "
            "jwt_audience, jwt_issuer, require_exp, app_secrets, scopes, namespaces, allowed_cidrs, rate_limit, "
            "record_mac) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16) "
            "ON CONFLICT (id) DO UPDATE SET key = excluded.key, name = excluded.name, status = excluded.status, "
            "client_secret = excluded.client_secret, client_public_keys = excluded.client_public_keys, "
            "jwt_audience = excluded.jwt_audience, jwt_issuer = excluded.jwt_issuer, "
            "require_exp = excluded.require_exp, app_secrets = excluded.app_secrets, scopes = excluded.scopes, "
            "namespaces = excluded.namespaces, allowed_cidrs = excluded.allowed_cidrs, "
            "rate_limit = excluded.rate_limit, record_mac = excluded.record_mac;",
            pg::params(app.id, app.key, app.name, app.status, app.created_ms, app.client_secret_sealed,
                       app.client_public_keys_json, app.jwt_audience, app.jwt_issuer, app.require_exp,
                       app.app_secrets_json, app.scopes, app.namespaces, app.allowed_cidrs, app.rate_limit,
                       app.record_mac),
            {}, make_error(Errc::kConflict, "another app has this key or name"));
        return ok_status();
      },
      std::move(done));
}

void PostgresStore::delete_app(std::string id, Completion done) {
  submit(
      [id = std::move(id)](pg::WriteTx& tx) -> Status {
        tx.run("DELETE FROM apps WHERE id = $1 RETURNING 1;", pg::params(id),
               [](const pg::ResultSet& r) { return none_deleted(r, "no such app"); });
        return ok_status();
      },
      std::move(done));
}

}  // namespace herald::store
