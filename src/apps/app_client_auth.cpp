// The client-JWT side of an app: its keys (public keys, sealed HS256 secrets) and its
// policy, kept in the record's client_public_keys_json column, and the admin changes to
// them (rotate/revoke, policy, cut-off).
//
// The column holds either the original form, an array of public keys, or an object
// {"keys":[…],"secrets":[{"id","sealed","created_ms"}],"max_token_lifetime_s":N,
//  "tokens_issued_after":T}. One column keeps the whole client policy under the same
// integrity protection as the rest of the record, without a schema change. The secret
// made with the app stays in client_secret_sealed (id "c0"); rotated ones are sealed under
// the app's key with the field "apps/client_secret/<id>", like AppSecrets.
#include <openssl/crypto.h>

#include <boost/json.hpp>

#include "apps/app_store.h"
#include "core/clock.h"
#include "crypto/encoding.h"
#include "crypto/random.h"

namespace herald::apps {
namespace {

namespace json = boost::json;

constexpr std::string_view kFirstClientSecretId = "c0";
constexpr std::size_t kMaxActive = 2;  // as with AppSecrets: one new, one being retired

std::string client_secret_field(std::string_view id) {
  return id == kFirstClientSecretId ? "apps/client_secret" : "apps/client_secret/" + std::string(id);
}

}  // namespace

struct AppStore::ClientAuthDoc {
  json::array keys;
  json::array secrets;
  std::int64_t max_token_lifetime_s = 0;
  std::int64_t tokens_issued_after = 0;

  static Result<ClientAuthDoc> parse(const std::string& text) {
    ClientAuthDoc d;
    json::error_code ec;
    auto v = json::parse(text.empty() ? "[]" : text, ec);
    if (ec) return make_error(Errc::kStoreError, "client keys are corrupt");
    if (v.is_array()) {
      d.keys = std::move(v.get_array());
      return d;
    }
    const auto* o = v.if_object();
    if (!o) return make_error(Errc::kStoreError, "client keys are corrupt");
    const auto* keys = o->if_contains("keys");
    const auto* secrets = o->if_contains("secrets");
    if ((keys && !keys->is_array()) || (secrets && !secrets->is_array()))
      return make_error(Errc::kStoreError, "client keys are corrupt");
    if (keys) d.keys = keys->get_array();
    if (secrets) d.secrets = secrets->get_array();
    if (const auto* m = o->if_contains("max_token_lifetime_s"); m && m->is_int64())
      d.max_token_lifetime_s = m->get_int64();
    if (const auto* t = o->if_contains("tokens_issued_after"); t && t->is_int64())
      d.tokens_issued_after = t->get_int64();
    return d;
  }

  std::string serialize() const {
    json::object o;
    o["keys"] = keys;
    o["secrets"] = secrets;
    o["max_token_lifetime_s"] = max_token_lifetime_s;
    o["tokens_issued_after"] = tokens_issued_after;
    return json::serialize(o);
  }
};

Status AppStore::load_client_auth(const store::AppRecord& r, App& app) {
  auto corrupt = [&](const std::string& what) { return make_error(Errc::kStoreError, "app " + r.name + ": " + what); };
  auto doc = ClientAuthDoc::parse(r.client_public_keys_json);
  if (!doc) return corrupt("client keys are corrupt");
  app.max_token_lifetime_s = doc->max_token_lifetime_s;
  app.tokens_issued_after = doc->tokens_issued_after;
  auto add_secret = [&](std::string_view id, const std::string& sealed, std::int64_t created_ms) -> Status {
    auto secret = sealer_.open(r.id, sealed, client_secret_field(id));
    if (!secret) return make_error(secret.error().code, "app " + r.name + ": a client secret does not open");
    auth::JwtKey k;
    k.alg = auth::JwtAlg::HS256;
    k.secret = std::move(*secret);
    app.client_keys.push_back(std::move(k));
    app.client_secrets.push_back(ClientSecretInfo{std::string(id), created_ms});
    return ok_status();
  };
  if (!r.client_secret_sealed.empty())
    if (auto s = add_secret(kFirstClientSecretId, r.client_secret_sealed, r.created_ms); !s) return s;
  for (const auto& v : doc->secrets) {
    const auto* o = v.if_object();
    if (!o || !o->contains("id") || !o->contains("sealed") || !o->at("id").is_string() || !o->at("sealed").is_string())
      return corrupt("a client secret is corrupt");
    auto sealed = crypto::base64_decode(std::string_view(o->at("sealed").get_string()));
    if (!sealed) return corrupt("a client secret is corrupt");
    std::int64_t created = 0;
    if (auto* c = o->if_contains("created_ms"); c && c->is_int64()) created = c->get_int64();
    if (auto s = add_secret(std::string_view(o->at("id").get_string()), *sealed, created); !s) return s;
  }
  for (const auto& v : doc->keys) {
    const auto* o = v.if_object();
    if (!o || !o->contains("alg") || !o->contains("pem") || !o->at("alg").is_string() || !o->at("pem").is_string())
      return corrupt("a client public key is corrupt");
    auto pem = o->at("pem").get_string();
    auto key = crypto::PublicKey::from_pem(std::string_view(pem.data(), pem.size()));
    if (!key) return corrupt("a client public key does not parse");
    auth::JwtKey k;
    k.alg = o->at("alg").get_string() == "EdDSA" ? auth::JwtAlg::EdDSA : auth::JwtAlg::ES256;
    if (auto* kid = o->if_contains("kid"); kid && kid->is_string()) k.kid = std::string(kid->get_string());
    k.public_key = *key;
    app.client_keys.push_back(std::move(k));
  }
  return ok_status();
}

template <class T, class Edit>
void AppStore::change_client_auth(const std::string& app, Done<T> done, Edit edit) {
  auto change = begin_change(app);
  if (!change) return done(change.error());
  store::AppRecord& r = change->record;
  auto doc = ClientAuthDoc::parse(r.client_public_keys_json);
  if (!doc) return done(doc.error());
  Result<T> answer = edit(r, *doc);
  if (!answer) return done(answer.error());
  r.client_public_keys_json = doc->serialize();
  auto shared_done = std::make_shared<Done<T>>(std::move(done));
  auto value = std::make_shared<T>(std::move(*answer));
  commit(
      std::move(*change), [shared_done, value] { (*shared_done)(std::move(*value)); },
      [shared_done](Error e) { (*shared_done)(std::move(e)); });
}

void AppStore::rotate_client_secret(const std::string& app, Done<NewSecret> done) {
  change_client_auth<NewSecret>(app, std::move(done), [&](store::AppRecord& r, ClientAuthDoc& d) -> Result<NewSecret> {
    const std::size_t active = d.secrets.size() + (r.client_secret_sealed.empty() ? 0 : 1);
    if (active >= kMaxActive)
      return make_error(Errc::kTooManySecrets, "the app has two active client secrets; revoke one first");
    std::string id = "c" + crypto::random_hex(4);
    std::string raw(32, '\0');
    crypto::random_bytes(reinterpret_cast<unsigned char*>(raw.data()), raw.size());
    std::string secret = crypto::base64url_encode(raw);
    auto sealed = sealer_.seal(r.id, secret, client_secret_field(id));
    if (!sealed) return sealed.error();
    d.secrets.push_back(
        json::object{{"id", id}, {"sealed", crypto::base64_encode(*sealed)}, {"created_ms", clock::unix_ms()}});
    crypto::SecretBytes value(secret);
    OPENSSL_cleanse(raw.data(), raw.size());
    OPENSSL_cleanse(secret.data(), secret.size());
    return NewSecret{id, std::move(value)};
  });
}

void AppStore::revoke_client_secret(const std::string& app, const std::string& secret_id, Done<Ok> done) {
  change_client_auth<Ok>(app, std::move(done), [&](store::AppRecord& r, ClientAuthDoc& d) -> Result<Ok> {
    const std::size_t keys_left = d.keys.size() + d.secrets.size() + (r.client_secret_sealed.empty() ? 0 : 1) - 1;
    bool found = false;
    if (secret_id == kFirstClientSecretId && !r.client_secret_sealed.empty()) {
      found = true;
      if (keys_left > 0) r.client_secret_sealed.clear();
    } else {
      for (auto it = d.secrets.begin(); it != d.secrets.end(); ++it) {
        const auto* o = it->if_object();
        if (!o || !o->contains("id") || o->at("id") != secret_id.c_str()) continue;
        found = true;
        if (keys_left > 0) d.secrets.erase(it);
        break;
      }
    }
    if (!found) return make_error(Errc::kNotFound, "the app has no client secret with this id");
    if (keys_left == 0)
      return make_error(Errc::kLastSecret, "this is the app's only client key; rotate or add a key first");
    return Ok{};
  });
}

void AppStore::add_client_key(const std::string& app, const std::string& pem, Done<std::string> done) {
  auto key = crypto::PublicKey::from_pem(pem);
  if (!key)
    return done(make_error(Errc::kInvalidArgument, "a client public key is not an Ed25519 or P-256 PEM public key"));
  change_client_auth<std::string>(
      app, std::move(done), [&](store::AppRecord& r, ClientAuthDoc& d) -> Result<std::string> {
        if (r.jwt_audience.empty())
          return make_error(Errc::kInvalidArgument, "set the app's JWT audience before adding a public key");
        if (d.keys.size() >= kMaxActive)
          return make_error(Errc::kTooManySecrets, "the app has two active client public keys; revoke one first");
        std::string kid = "k" + crypto::random_hex(4);
        d.keys.push_back(json::object{{"alg", key->kind() == crypto::KeyKind::Ed25519 ? "EdDSA" : "ES256"},
                                      {"kid", kid},
                                      {"pem", key->to_pem()},
                                      {"created_ms", clock::unix_ms()}});
        return kid;
      });
}

void AppStore::remove_client_key(const std::string& app, const std::string& kid, Done<Ok> done) {
  change_client_auth<Ok>(app, std::move(done), [&](store::AppRecord& r, ClientAuthDoc& d) -> Result<Ok> {
    auto it = std::find_if(d.keys.begin(), d.keys.end(), [&](const json::value& v) {
      const auto* o = v.if_object();
      return o && o->contains("kid") && o->at("kid") == kid.c_str();
    });
    if (it == d.keys.end()) return make_error(Errc::kNotFound, "the app has no client public key with this kid");
    if (d.keys.size() + d.secrets.size() + (r.client_secret_sealed.empty() ? 0 : 1) == 1)
      return make_error(Errc::kLastSecret, "this is the app's only client key; add another first");
    d.keys.erase(it);
    return Ok{};
  });
}

void AppStore::set_jwt_policy(const std::string& app, JwtPolicyChange c, Done<Ok> done) {
  if (c.max_token_lifetime_s && *c.max_token_lifetime_s < 0)
    return done(make_error(Errc::kInvalidArgument, "max_token_lifetime must be 0 or a number of seconds"));
  if (c.tokens_issued_after && *c.tokens_issued_after < 0)
    return done(make_error(Errc::kInvalidArgument, "tokens_issued_after must be Unix seconds"));
  change_client_auth<Ok>(app, std::move(done), [&](store::AppRecord& r, ClientAuthDoc& d) -> Result<Ok> {
    if (c.audience) r.jwt_audience = *c.audience;
    if (c.issuer) r.jwt_issuer = *c.issuer;
    if (c.require_exp) r.require_exp = *c.require_exp;
    if (c.max_token_lifetime_s) d.max_token_lifetime_s = *c.max_token_lifetime_s;
    if (c.tokens_issued_after) d.tokens_issued_after = *c.tokens_issued_after;
    if (!d.keys.empty() && r.jwt_audience.empty())
      return make_error(Errc::kInvalidArgument, "an app with client public keys needs a JWT audience");
    return Ok{};
  });
}

Result<crypto::SecretBytes> AppStore::client_secret(const App& app) {
  std::lock_guard lock(mu_);
  for (const auto& r : records_cache_) {
    if (r.id != app.id) continue;
    // The newest active secret: the one tokens should be minted with during a rotation.
    auto doc = ClientAuthDoc::parse(r.client_public_keys_json);
    if (!doc) return doc.error();
    for (auto it = doc->secrets.rbegin(); it != doc->secrets.rend(); ++it) {
      const auto* o = it->if_object();
      if (!o || !o->contains("id") || !o->contains("sealed") || !o->at("sealed").is_string()) continue;
      auto sealed = crypto::base64_decode(std::string_view(o->at("sealed").get_string()));
      if (!sealed) return make_error(Errc::kStoreError, "a client secret is corrupt");
      auto s = sealer_.open(r.id, *sealed, client_secret_field(std::string_view(o->at("id").get_string())));
      if (!s) return s.error();
      return std::move(*s);
    }
    if (r.client_secret_sealed.empty()) return make_error(Errc::kNotFound, "the app has no client secret");
    auto s = sealer_.open(r.id, r.client_secret_sealed, client_secret_field(kFirstClientSecretId));
    if (!s) return s.error();
    return std::move(*s);
  }
  return make_error(Errc::kNotFound, "no such app");
}

}  // namespace herald::apps
