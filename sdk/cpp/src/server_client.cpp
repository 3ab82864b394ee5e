// ServerClient: builds each body, signs the request (docs/signing.md) with a fresh
// nonce and the current time, and reads the answer.
#include <openssl/evp.h>

#include <boost/json.hpp>

#include "client_core.h"
#include "herald/client.h"

namespace herald::sdk {

using detail::HttpRequest;
using detail::HttpResponse;
namespace json = boost::json;

namespace {

Error invalid(std::string message) {
  return Error{"invalid_argument", std::move(message), 0, {}, 0};
}

// `data_json` must be exactly one JSON value: it is written into the body as it is.
std::optional<Error> check_data(std::string_view data_json) {
  boost::system::error_code ec;
  json::parse_options opts;
  opts.max_depth = 1024;  // the server decides how deep is too deep
  json::parse(data_json, ec, {}, opts);
  if (ec) return invalid("data is not valid JSON: " + ec.message());
  return std::nullopt;
}

std::string quoted(std::string_view s) {
  return json::serialize(json::string(s));
}

// {"<name>":"<value>","data":<data_json>[,"idempotency_key":"..."]}
std::string publish_body(std::string_view name_field, std::string_view name_json, std::string_view data_json,
                         std::string_view idempotency_key) {
  std::string body = "{\"";
  body.append(name_field).append("\":").append(name_json).append(",\"data\":").append(data_json);
  if (!idempotency_key.empty()) body.append(",\"idempotency_key\":").append(quoted(idempotency_key));
  body.push_back('}');
  return body;
}

std::optional<Error> check_idempotency_key(std::string_view key) {
  if (key.size() > 128) return invalid("idempotency_key must be 1 to 128 characters");
  return std::nullopt;
}

}  // namespace

class ServerClient::Impl {
 public:
  explicit Impl(ServerClientOptions o)
      : core_(std::move(o.connection)),
        app_key_(std::move(o.app_key)),
        app_secret_(std::move(o.app_secret)),
        deployment_id_(std::move(o.deployment_id)) {}

  // Signs and sends; the path is relative to the base URL.
  Result<HttpResponse> call(std::string_view method, std::string_view path, std::string_view body) {
    if (app_key_.empty() || app_secret_.empty()) return invalid("the app key and app secret are required");
    std::string timestamp = unix_timestamp_now();
    auto nonce = make_nonce();
    if (!nonce) return nonce.error();
    std::string target = core_.path_prefix() + std::string(path);
    auto signed_headers = sign_request(SigningInput{method, target, body, timestamp, *nonce, app_key_, deployment_id_},
                                       app_secret_.view());
    if (!signed_headers) return signed_headers.error();
    HttpRequest req{method,
                    path,
                    {"X-Herald-Key: " + signed_headers->key, "X-Herald-Timestamp: " + signed_headers->timestamp,
                     "X-Herald-Nonce: " + signed_headers->nonce, "X-Herald-Signature: " + signed_headers->signature,
                     "X-Herald-Signature-Version: " + signed_headers->version},
                    body,
                    method == "POST" || !body.empty()};
    return core_.call(req);
  }

 private:
  detail::ClientCore core_;
  std::string app_key_;
  SecretString app_secret_;
  std::string deployment_id_;
};

ServerClient::ServerClient(ServerClientOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
ServerClient::~ServerClient() = default;
ServerClient::ServerClient(ServerClient&&) noexcept = default;
ServerClient& ServerClient::operator=(ServerClient&&) noexcept = default;

Result<PublishResult> ServerClient::publish(std::string_view channel, std::string_view data_json,
                                            std::string_view idempotency_key) {
  if (channel.empty()) return invalid("channel is required");
  if (auto e = check_data(data_json)) return *e;
  if (auto e = check_idempotency_key(idempotency_key)) return *e;
  auto r = impl_->call("POST", "/api/v1/publish", publish_body("channel", quoted(channel), data_json, idempotency_key));
  if (!r) return r.error();
  return detail::decode<PublishResult>(*r, false, [&](const json::value& v) {
    PublishResult p = detail::read_publish(detail::obj(v, "the answer"));
    if (p.channel.empty()) p.channel = std::string(channel);
    p.replayed = r->idempotent_replayed;
    p.request_id = r->request_id;
    return p;
  });
}

Result<BroadcastResult> ServerClient::broadcast(const std::vector<std::string>& channels, std::string_view data_json,
                                                std::string_view idempotency_key) {
  if (channels.empty()) return invalid("at least one channel is required");
  if (auto e = check_data(data_json)) return *e;
  if (auto e = check_idempotency_key(idempotency_key)) return *e;
  json::array list;
  for (const auto& c : channels) list.emplace_back(c);
  auto r = impl_->call("POST", "/api/v1/broadcast",
                       publish_body("channels", json::serialize(list), data_json, idempotency_key));
  if (!r) return r.error();
  return detail::decode<BroadcastResult>(*r, false, [&](const json::value& v) {
    BroadcastResult b;
    for (const auto& item : detail::arr(detail::obj(v, "the answer"), "results")) {
      const auto& o = detail::obj(item, "a result");
      BroadcastOutcome out;
      out.channel = detail::str(o, "channel");
      if (const auto* e = o.if_contains("error")) {
        const auto& eo = detail::obj(*e, "error");
        out.error = Error{detail::str(eo, "code"), detail::str_or(eo, "message"), 0, r->request_id, 0};
      } else {
        out.published = detail::read_publish(o);
      }
      b.results.push_back(std::move(out));
    }
    b.replayed = r->idempotent_replayed;
    b.request_id = r->request_id;
    return b;
  });
}

Result<PublishResult> ServerClient::publish_to_user(std::string_view user, std::string_view data_json,
                                                    std::string_view idempotency_key) {
  if (user.empty()) return invalid("user is required");
  if (auto e = check_data(data_json)) return *e;
  if (auto e = check_idempotency_key(idempotency_key)) return *e;
  auto r = impl_->call("POST", "/api/v1/user/publish", publish_body("user", quoted(user), data_json, idempotency_key));
  if (!r) return r.error();
  return detail::decode<PublishResult>(*r, false, [&](const json::value& v) {
    PublishResult p = detail::read_publish(detail::obj(v, "the answer"));
    p.replayed = r->idempotent_replayed;
    p.request_id = r->request_id;
    return p;
  });
}

Result<History> ServerClient::history(std::string_view channel, std::optional<std::uint64_t> limit,
                                      std::optional<StreamPosition> since) {
  if (channel.empty()) return invalid("channel is required");
  json::object body{{"channel", channel}};
  if (limit) body["limit"] = *limit;
  if (since) body["since"] = json::object{{"offset", since->offset}, {"epoch", since->epoch}};
  auto r = impl_->call("POST", "/api/v1/history", json::serialize(body));
  if (!r) return r.error();
  return detail::decode<History>(*r, false, [](const json::value& v) {
    const auto& o = detail::obj(v, "the answer");
    History h;
    h.epoch = detail::str(o, "epoch");
    h.offset = detail::u64(o, "offset");
    if (const auto* rec = o.if_contains("recovered"); rec && rec->is_bool()) h.recovered = rec->get_bool();
    for (const auto& p : detail::arr(o, "publications")) {
      const auto& po = detail::obj(p, "a publication");
      Publication pub;
      pub.channel = detail::str_or(po, "channel");
      pub.offset = detail::u64(po, "offset");
      pub.epoch = detail::str_or(po, "epoch");
      pub.id = detail::str(po, "id");
      pub.ts_ms = detail::i64_or(po, "ts");
      pub.data_json = json::serialize(detail::field(po, "data"));
      h.publications.push_back(std::move(pub));
    }
    return h;
  });
}

Result<Presence> ServerClient::presence(std::string_view channel) {
  if (channel.empty()) return invalid("channel is required");
  auto r = impl_->call("POST", "/api/v1/presence", json::serialize(json::object{{"channel", channel}}));
  if (!r) return r.error();
  return detail::decode<Presence>(*r, false, [](const json::value& v) {
    const auto& o = detail::obj(v, "the answer");
    Presence p;
    for (const auto& [id, c] : detail::obj(detail::field(o, "clients"), "clients")) {
      const auto& co = detail::obj(c, "a client");
      PresenceClient pc{std::string(id), detail::str(co, "user"), {}};
      if (const auto* info = co.if_contains("info")) pc.info_json = json::serialize(*info);
      p.clients.push_back(std::move(pc));
    }
    if (const auto* t = o.if_contains("truncated"); t && t->is_bool()) p.truncated = t->get_bool();
    return p;
  });
}

Result<PresenceStats> ServerClient::presence_stats(std::string_view channel) {
  if (channel.empty()) return invalid("channel is required");
  auto r = impl_->call("POST", "/api/v1/presence_stats", json::serialize(json::object{{"channel", channel}}));
  if (!r) return r.error();
  return detail::decode<PresenceStats>(*r, false, [](const json::value& v) {
    const auto& o = detail::obj(v, "the answer");
    return PresenceStats{detail::u64(o, "num_clients"), detail::u64(o, "num_users")};
  });
}

Result<std::uint64_t> ServerClient::disconnect_user(std::string_view user) {
  if (user.empty()) return invalid("user is required");
  auto r = impl_->call("POST", "/api/v1/user/disconnect", json::serialize(json::object{{"user", user}}));
  if (!r) return r.error();
  return detail::decode<std::uint64_t>(
      *r, false, [](const json::value& v) { return detail::u64(detail::obj(v, "the answer"), "connections"); });
}

Result<AppInfo> ServerClient::app_info() {
  auto r = impl_->call("GET", "/api/v1/app", {});
  if (!r) return r.error();
  return detail::decode<AppInfo>(*r, false,
                                 [](const json::value& v) { return detail::read_app(detail::obj(v, "the answer")); });
}

// ---- Key service: base64 plaintexts and contexts; plaintexts read back through wiped memory.

namespace {

std::string b64(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

// Standard base64 with padding; nullopt when malformed.
std::optional<std::string> unb64(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::string out(text.size() / 4 * 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
  if (n < 0) return std::nullopt;
  std::size_t pad = 0;
  if (!text.empty() && text.back() == '=') ++pad;
  if (text.size() >= 2 && text[text.size() - 2] == '=') ++pad;
  out.resize(static_cast<std::size_t>(n) - pad);
  return out;
}

KmsKey read_key(const json::object& o) {
  KmsKey k;
  k.name = detail::str(o, "name");
  k.type = detail::str_or(o, "type");
  k.latest_version = static_cast<std::uint32_t>(detail::u64(o, "latest_version"));
  k.min_decryption_version = static_cast<std::uint32_t>(detail::u64(o, "min_decryption_version"));
  auto flag = [&](std::string_view n) {
    const auto* v = o.if_contains(n);
    return v && v->is_bool() && v->get_bool();
  };
  k.exportable = flag("exportable");
  k.deletion_allowed = flag("deletion_allowed");
  return k;
}

void add_context(json::object& body, std::string_view context) {
  if (!context.empty()) body["context"] = b64(context);
}

Error item_error(const json::object& o) {
  const auto& e = detail::obj(detail::field(o, "error"), "error");
  return Error{detail::str(e, "code"), detail::str_or(e, "message"), 0, {}, 0};
}

}  // namespace

Result<KmsKey> ServerClient::kms_create_key(std::string_view name, bool exportable) {
  auto r = impl_->call("POST", "/api/v1/kms/keys",
                       json::serialize(json::object{{"name", name}, {"exportable", exportable}}));
  if (!r) return r.error();
  return detail::decode<KmsKey>(
      *r, false, [](const json::value& v) { return Result<KmsKey>(read_key(detail::obj(v, "the answer"))); });
}

Result<KmsKey> ServerClient::kms_key_info(std::string_view name) {
  auto r = impl_->call("GET", "/api/v1/kms/keys/" + percent_encode(name), {});
  if (!r) return r.error();
  return detail::decode<KmsKey>(
      *r, false, [](const json::value& v) { return Result<KmsKey>(read_key(detail::obj(v, "the answer"))); });
}

Result<KmsKey> ServerClient::kms_rotate_key(std::string_view name) {
  auto r = impl_->call("POST", "/api/v1/kms/keys/" + percent_encode(name) + "/rotate", "{}");
  if (!r) return r.error();
  return detail::decode<KmsKey>(
      *r, false, [](const json::value& v) { return Result<KmsKey>(read_key(detail::obj(v, "the answer"))); });
}

Result<KmsKey> ServerClient::kms_set_min_decryption_version(std::string_view name, std::uint32_t version) {
  auto r = impl_->call("POST", "/api/v1/kms/keys/" + percent_encode(name) + "/config",
                       json::serialize(json::object{{"min_decryption_version", version}}));
  if (!r) return r.error();
  return detail::decode<KmsKey>(
      *r, false, [](const json::value& v) { return Result<KmsKey>(read_key(detail::obj(v, "the answer"))); });
}

Result<std::string> ServerClient::kms_encrypt(std::string_view key, std::string_view plaintext,
                                              std::string_view context) {
  json::object body{{"key", key}, {"plaintext", b64(plaintext)}};
  add_context(body, context);
  std::string text = json::serialize(body);
  auto r = impl_->call("POST", "/api/v1/kms/encrypt", text);
  detail::cleanse(text);
  if (!r) return r.error();
  return detail::decode<std::string>(*r, false, [](const json::value& v) {
    return Result<std::string>(detail::str(detail::obj(v, "the answer"), "ciphertext"));
  });
}

Result<SecretString> ServerClient::kms_decrypt(std::string_view key, std::string_view ciphertext,
                                               std::string_view context) {
  json::object body{{"key", key}, {"ciphertext", ciphertext}};
  add_context(body, context);
  auto r = impl_->call("POST", "/api/v1/kms/decrypt", json::serialize(body));
  if (!r) return r.error();
  return detail::decode<SecretString>(*r, true, [&r](const json::value& v) -> Result<SecretString> {
    auto plain = unb64(detail::str(detail::obj(v, "the answer"), "plaintext"));
    if (!plain) return detail::invalid_response("plaintext is not base64", r->request_id);
    SecretString out(std::move(*plain));
    return out;
  });
}

Result<std::string> ServerClient::kms_rewrap(std::string_view key, std::string_view ciphertext,
                                             std::string_view context) {
  json::object body{{"key", key}, {"ciphertext", ciphertext}};
  add_context(body, context);
  auto r = impl_->call("POST", "/api/v1/kms/rewrap", json::serialize(body));
  if (!r) return r.error();
  return detail::decode<std::string>(*r, false, [](const json::value& v) {
    return Result<std::string>(detail::str(detail::obj(v, "the answer"), "ciphertext"));
  });
}

Result<KmsDataKey> ServerClient::kms_datakey(std::string_view key, unsigned bits, bool with_plaintext,
                                             std::string_view context) {
  json::object body{{"key", key}, {"bits", bits}, {"plaintext", with_plaintext}};
  add_context(body, context);
  auto r = impl_->call("POST", "/api/v1/kms/datakey", json::serialize(body));
  if (!r) return r.error();
  return detail::decode<KmsDataKey>(*r, true, [&r](const json::value& v) -> Result<KmsDataKey> {
    const auto& o = detail::obj(v, "the answer");
    KmsDataKey dk;
    dk.ciphertext = detail::str(o, "ciphertext");
    if (o.contains("plaintext")) {
      auto plain = unb64(detail::str(o, "plaintext"));
      if (!plain) return detail::invalid_response("plaintext is not base64", r->request_id);
      dk.plaintext = SecretString(std::move(*plain));
    }
    return dk;
  });
}

namespace {
Result<std::vector<KmsItem>> read_batch(detail::HttpResponse& resp, std::string_view field, bool decode_b64) {
  return detail::decode<std::vector<KmsItem>>(
      resp, decode_b64, [&](const json::value& v) -> Result<std::vector<KmsItem>> {
        std::vector<KmsItem> out;
        for (const auto& item : detail::arr(detail::obj(v, "the answer"), "results")) {
          const auto& o = detail::obj(item, "a result");
          KmsItem k;
          if (o.contains("error")) {
            k.error = item_error(o);
          } else if (decode_b64) {
            auto plain = unb64(detail::str(o, field));
            if (!plain) return detail::invalid_response("plaintext is not base64", resp.request_id);
            k.value = SecretString(std::move(*plain));
          } else {
            k.value = SecretString(detail::str(o, field));
          }
          out.push_back(std::move(k));
        }
        return out;
      });
}
}  // namespace

Result<std::vector<KmsItem>> ServerClient::kms_encrypt_batch(std::string_view key,
                                                             const std::vector<std::string>& plaintexts,
                                                             std::string_view context) {
  json::array items;
  for (const auto& p : plaintexts) {
    json::object it{{"plaintext", b64(p)}};
    add_context(it, context);
    items.push_back(std::move(it));
  }
  std::string text = json::serialize(json::object{{"key", key}, {"items", std::move(items)}});
  auto r = impl_->call("POST", "/api/v1/kms/encrypt", text);
  detail::cleanse(text);
  if (!r) return r.error();
  return read_batch(*r, "ciphertext", false);
}

Result<std::vector<KmsItem>> ServerClient::kms_decrypt_batch(std::string_view key,
                                                             const std::vector<std::string>& ciphertexts,
                                                             std::string_view context) {
  json::array items;
  for (const auto& c : ciphertexts) {
    json::object it{{"ciphertext", c}};
    add_context(it, context);
    items.push_back(std::move(it));
  }
  auto r = impl_->call("POST", "/api/v1/kms/decrypt",
                       json::serialize(json::object{{"key", key}, {"items", std::move(items)}}));
  if (!r) return r.error();
  return read_batch(*r, "plaintext", true);
}

}  // namespace herald::sdk

namespace herald::sdk {

Result<OtpSent> ServerClient::otp_send(const OtpSendOptions& o) {
  if (o.to.empty() || o.channel.empty() || o.device_id.empty() || o.purpose.empty())
    return invalid("to, channel, device_id and purpose are required");
  json::object body{{"to", o.to}, {"channel", o.channel}, {"device_id", o.device_id}, {"purpose", o.purpose}};
  if (!o.template_name.empty()) body["template"] = o.template_name;
  if (!o.locale.empty()) body["locale"] = o.locale;
  if (!o.client_ip.empty()) body["client_ip"] = o.client_ip;
  auto r = impl_->call("POST", "/api/v1/otp/send", json::serialize(body));
  if (!r) return r.error();
  return detail::decode<OtpSent>(*r, false, [](const json::value& v) {
    const auto& o = detail::obj(v, "the answer");
    return OtpSent{detail::str(o, "verification_id"), detail::i64_or(o, "expires_in"),
                   detail::i64_or(o, "resend_after")};
  });
}

Result<OtpVerified> ServerClient::otp_verify(std::string_view verification_id, std::string_view code) {
  if (verification_id.empty() || code.empty()) return invalid("verification_id and code are required");
  auto r = impl_->call("POST", "/api/v1/otp/verify",
                       json::serialize(json::object{{"verification_id", verification_id}, {"code", code}}));
  if (!r) return r.error();
  return detail::decode<OtpVerified>(*r, true, [](const json::value& v) {
    const auto& o = detail::obj(v, "the answer");
    return OtpVerified{SecretString(detail::str(o, "success_token")), detail::i64_or(o, "expires_in")};
  });
}

Result<OtpRedeemed> ServerClient::otp_redeem(const SecretString& success_token, std::string_view purpose) {
  if (success_token.empty() || purpose.empty()) return invalid("success_token and purpose are required");
  std::string body = json::serialize(json::object{{"success_token", success_token.view()}, {"purpose", purpose}});
  auto r = impl_->call("POST", "/api/v1/otp/redeem", body);
  detail::cleanse(body);
  if (!r) return r.error();
  return detail::decode<OtpRedeemed>(*r, false, [](const json::value& v) {
    const auto& o = detail::obj(v, "the answer");
    return OtpRedeemed{detail::str(o, "to"), detail::str(o, "device_id"), detail::str(o, "purpose")};
  });
}

}  // namespace herald::sdk

// ---- Messages to users (docs/messages.md)

namespace herald::sdk {

namespace {

// `fields` (a serialised, non-empty object) with `"<name>":<value_json>` added in front.
std::string with_raw_field(std::string fields, std::string_view name, std::string_view value_json) {
  std::string head = "{";
  head.append(quoted(name)).append(":").append(value_json);
  if (fields != "{}") head.push_back(',');
  return head + fields.substr(1);
}

std::string user_path(std::string_view user, std::string_view suffix) {
  return "/api/v1/users/" + percent_encode(user) + std::string(suffix);
}

MessageEvent read_event(const json::object& o) {
  MessageEvent e;
  e.at_ms = detail::i64_or(o, "at_ms");
  e.event = detail::str(o, "event");
  e.channel = detail::str_or(o, "channel");
  e.detail = detail::str_or(o, "detail");
  if (o.contains("connections")) e.connections = detail::u64(o, "connections");
  return e;
}

std::string data_of(const json::object& o) {
  const auto* d = o.if_contains("data");
  return d ? json::serialize(*d) : std::string();
}

InboxMessage read_inbox_message(const json::object& o) {
  InboxMessage m;
  m.id = detail::str(o, "id");
  m.ts_ms = detail::i64_or(o, "ts");
  m.priority = detail::str_or(o, "priority");
  m.template_name = detail::str_or(o, "template");
  m.data_json = data_of(o);
  m.cursor = detail::str_or(o, "cursor");
  return m;
}

}  // namespace

Result<MessageSent> ServerClient::send_message(const MessageOptions& o) {
  if (o.to_user.empty()) return invalid("to_user is required");
  if (o.data_json.empty() == o.template_name.empty()) return invalid("give either data_json or template_name");
  if (o.idempotency_key.size() > 256) return invalid("idempotency_key must be 1 to 256 bytes");
  if (!o.data_json.empty())
    if (auto e = check_data(o.data_json)) return *e;
  json::object body{{"to_user", o.to_user}};
  if (!o.template_name.empty()) {
    body["template"] = o.template_name;
    if (!o.vars_json.empty()) {
      boost::system::error_code ec;
      json::value vars = json::parse(o.vars_json, ec);
      if (ec || !vars.is_object()) return invalid("vars_json is not a JSON object");
      body["vars"] = std::move(vars);
    }
    if (!o.locale.empty()) body["locale"] = o.locale;
  }
  if (!o.subject.empty()) body["subject"] = o.subject;
  if (!o.text.empty()) body["text"] = o.text;
  if (o.channels) {
    json::array list;
    for (const auto& c : *o.channels) list.emplace_back(c);
    body["channels"] = std::move(list);
  }
  if (!o.fallback_after.empty()) body["fallback_after"] = o.fallback_after;
  if (!o.ttl.empty()) body["ttl"] = o.ttl;
  if (!o.priority.empty()) body["priority"] = o.priority;
  if (!o.idempotency_key.empty()) body["idempotency_key"] = o.idempotency_key;
  std::string text = json::serialize(body);
  // The data goes out as the caller wrote it, not re-serialised.
  if (!o.data_json.empty()) text = with_raw_field(std::move(text), "data", o.data_json);
  auto r = impl_->call("POST", "/api/v1/messages", text);
  if (!r) return r.error();
  return detail::decode<MessageSent>(*r, false, [](const json::value& v) {
    const auto& a = detail::obj(v, "the answer");
    MessageSent m;
    m.id = detail::str(a, "id");
    m.state = detail::str(a, "state");
    if (const auto* d = a.if_contains("duplicate"); d && d->is_bool()) m.duplicate = d->get_bool();
    m.connections = static_cast<std::uint64_t>(detail::i64_or(a, "connections"));
    return m;
  });
}

Result<MessageStatus> ServerClient::message_status(std::string_view id) {
  if (id.empty()) return invalid("id is required");
  auto r = impl_->call("GET", "/api/v1/messages/" + percent_encode(id), {});
  if (!r) return r.error();
  return detail::decode<MessageStatus>(*r, false, [](const json::value& v) {
    const auto& o = detail::obj(v, "the answer");
    MessageStatus m;
    m.id = detail::str(o, "id");
    m.user = detail::str(o, "user");
    m.state = detail::str(o, "state");
    m.created_ms = detail::i64_or(o, "created_ms");
    m.expires_ms = detail::i64_or(o, "expires_ms");
    m.priority = detail::str_or(o, "priority");
    m.template_name = detail::str_or(o, "template");
    m.channels = detail::strings_or_list(o.if_contains("channels"));
    m.fallback_after_ms = detail::i64_or(o, "fallback_after_ms");
    m.data_json = data_of(o);
    for (const auto& e : detail::arr(o, "trail")) m.trail.push_back(read_event(detail::obj(e, "an event")));
    return m;
  });
}

Result<InboxPage> ServerClient::inbox(std::string_view user, std::optional<unsigned> limit, std::string_view after) {
  if (user.empty()) return invalid("user is required");
  std::string path = user_path(user, "/inbox");
  char sep = '?';
  if (limit) {
    path.append(1, sep).append("limit=").append(std::to_string(*limit));
    sep = '&';
  }
  if (!after.empty()) path.append(1, sep).append("after=").append(percent_encode(after));
  auto r = impl_->call("GET", path, {});
  if (!r) return r.error();
  return detail::decode<InboxPage>(*r, false, [](const json::value& v) {
    const auto& o = detail::obj(v, "the answer");
    InboxPage page;
    for (const auto& m : detail::arr(o, "messages"))
      page.messages.push_back(read_inbox_message(detail::obj(m, "a message")));
    if (const auto* n = o.if_contains("next"); n && n->is_string()) page.next = std::string(n->get_string());
    return page;
  });
}

Result<Contacts> ServerClient::set_contacts(std::string_view user, std::optional<std::string> email,
                                            std::optional<std::string> phone) {
  if (user.empty()) return invalid("user is required");
  std::string body = detail::contacts_body(email, phone);
  auto r = impl_->call("PUT", user_path(user, "/contacts"), body);
  detail::cleanse(body);
  if (!r) return r.error();
  return detail::decode<Contacts>(
      *r, true, [](const json::value& v) { return detail::read_contacts(detail::obj(v, "the answer")); });
}

Result<Contacts> ServerClient::contacts(std::string_view user) {
  if (user.empty()) return invalid("user is required");
  auto r = impl_->call("GET", user_path(user, "/contacts"), {});
  if (!r) return r.error();
  return detail::decode<Contacts>(
      *r, true, [](const json::value& v) { return detail::read_contacts(detail::obj(v, "the answer")); });
}

Result<void> ServerClient::delete_contacts(std::string_view user) {
  if (user.empty()) return invalid("user is required");
  auto r = impl_->call("DELETE", user_path(user, "/contacts"), {});
  if (!r) return r.error();
  return Result<void>();
}

}  // namespace herald::sdk
