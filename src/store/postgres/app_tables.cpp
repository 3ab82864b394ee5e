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
        if (!app.if_record_mac.empty()) {
          // A change to an app as this node read it: written only if no other node's
          // change landed since, else that one would be lost.
          tx.run(
              "WITH changed AS (UPDATE apps SET key = $2, name = $3, status = $4, client_secret = $6, "
              "client_public_keys = $7, jwt_audience = $8, jwt_issuer = $9, require_exp = $10, app_secrets = $11, "
              "scopes = $12, namespaces = $13, allowed_cidrs = $14, rate_limit = $15, record_mac = $16 "
              "WHERE id = $1 AND record_mac = $17 AND created_ms = $5 RETURNING 1) "
              "SELECT (SELECT count(*) FROM changed), EXISTS (SELECT 1 FROM apps WHERE id = $1);",
              pg::params(app.id, app.key, app.name, app.status, app.created_ms, app.client_secret_sealed,
                         app.client_public_keys_json, app.jwt_audience, app.jwt_issuer, app.require_exp,
                         app.app_secrets_json, app.scopes, app.namespaces, app.allowed_cidrs, app.rate_limit,
                         app.record_mac, app.if_record_mac),
              [](const pg::ResultSet& r) -> Status {
                if (r.rows() == 1 && r.row(0).i64(0) == 1) return ok_status();
                if (r.rows() == 1 && !r.row(0).boolean(1)) return make_error(Errc::kNotFound, "no such app");
                return make_error(Errc::kConflict, "the app was changed meanwhile (on another node); retry");
              },
              make_error(Errc::kConflict, "another app has this key or name"));
          return ok_status();
        }
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
