// Herald's C++ SDK for business back ends: ServerClient calls the signed server API
// (docs/server-api.md), AdminClient the admin API (docs/admin-api.md). Every call is
// blocking, returns a Result, and never throws for an expected failure.
//
// A client keeps one HTTP connection alive between calls and serialises the calls made
// on it; for requests in parallel, make one client per thread. A moved-from client may
// only be destroyed or assigned to.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "herald/result.h"
#include "herald/secret.h"
#include "herald/signer.h"

namespace herald::sdk {

// How to reach the server. The certificate is verified against the system's trust
// store, or `ca_file` when given; `insecure` turns verification off (development only).
struct ConnectionOptions {
  std::string base_url = "https://127.0.0.1:8443";  // scheme://host[:port][/prefix]
  std::string ca_file;                              // PEM bundle of trusted CAs
  bool insecure = false;
  std::chrono::milliseconds timeout{10'000};  // per call, connecting included
};

struct ServerClientOptions {
  ConnectionOptions connection;
  std::string app_key;
  SecretString app_secret;
  std::string deployment_id;  // the server's server.deployment_id, bound into every signature
};

struct AdminClientOptions {
  ConnectionOptions connection;
  SecretString admin_token;  // "hat_..."
};

// ---- Answers -------------------------------------------------------------------

// Where a publication sits in its channel's stream.
struct StreamPosition {
  std::uint64_t offset = 0;
  std::string epoch;
};

struct PublishResult {
  std::string channel;  // as the server names it (user#42 for a user publish)
  std::uint64_t offset = 0;
  std::string epoch;
  std::string id;         // what clients ack
  bool replayed = false;  // the answer of an earlier request with the same idempotency key
  std::string request_id;
};

// One channel of a broadcast: its publication, or why it failed.
struct BroadcastOutcome {
  std::string channel;
  std::optional<PublishResult> published;
  std::optional<Error> error;  // code and message (no status: the request as a whole succeeded)
};

struct BroadcastResult {
  std::vector<BroadcastOutcome> results;  // in the order of the request's channels
  bool replayed = false;
  std::string request_id;
};

struct Publication {
  std::string channel;
  std::uint64_t offset = 0;
  std::string epoch;
  std::string id;
  std::int64_t ts_ms = 0;
  std::string data_json;  // the published data, compact JSON
};

struct History {
  std::string epoch;
  std::uint64_t offset = 0;               // the channel's latest offset
  std::optional<bool> recovered;          // only when `since` was given
  std::vector<Publication> publications;  // oldest first
};

struct PresenceClient {
  std::string client_id;
  std::string user;
  std::string info_json;  // empty when the client has no info
};

struct Presence {
  std::vector<PresenceClient> clients;
  bool truncated = false;
};

struct PresenceStats {
  std::uint64_t num_clients = 0;
  std::uint64_t num_users = 0;
};

struct SecretInfo {
  std::string id;
  std::int64_t created_ms = 0;
};

struct ClientKeyInfo {
  std::string alg;  // HS256, ES256, EdDSA
  std::string kid;
};

// An app as the APIs show it: never a secret, only the ids of its AppSecrets.
struct AppInfo {
  std::string id;
  std::string key;
  std::string name;
  std::string status;  // "active" or "suspended"
  std::int64_t created_ms = 0;
  std::vector<std::string> scopes;
  std::vector<std::string> namespaces;
  std::vector<std::string> allowed_cidrs;
  std::uint64_t rate_limit = 0;
  std::vector<SecretInfo> secrets;
  std::vector<ClientKeyInfo> client_keys;
  std::string jwt_audience;
  std::string jwt_issuer;
  bool require_exp = false;
  std::string json;  // the object as the server sent it
};

// ---- Server API ------------------------------------------------------------------

// ---- Key service (docs/kms.md), with the same credentials (scope kms) ---------------

struct KmsKey {
  std::string name;
  std::string type;
  std::uint32_t latest_version = 0;
  std::uint32_t min_decryption_version = 1;
  bool exportable = false;
  bool deletion_allowed = false;
};

struct KmsDataKey {
  std::string ciphertext;  // "herald:v<n>:..." under the named key
  SecretString plaintext;  // empty when asked without it
};

// One item of a batch: the ciphertext (encrypt, rewrap) or plaintext (decrypt), or why not.
struct KmsItem {
  std::optional<SecretString> value;
  std::optional<Error> error;
};

// Verification codes (docs/otp.md).
struct OtpSendOptions {
  std::string to;             // E.164 phone number or e-mail address
  std::string channel;        // "sms" or "email"
  std::string device_id;      // the end user's device, for the per-device limit
  std::string purpose;        // login, password_change, payment, ...: bound into the token
  std::string template_name;  // optional: a template of otp.templates_file
  std::string locale;         // optional: en, pt-BR, ...
  std::string client_ip;      // optional but recommended: the end user's address
};

struct OtpSent {
  std::string verification_id;
  std::int64_t expires_in_s = 0;
  std::int64_t resend_after_s = 0;
};

struct OtpVerified {
  SecretString success_token;
  std::int64_t expires_in_s = 0;
};

struct OtpRedeemed {
  std::string to;
  std::string device_id;
  std::string purpose;
};

// Messages to users (docs/messages.md): durable, acknowledged by the user's client,
// sent by webhook, e-mail or SMS when not acknowledged in time. Durations are text as
// the server reads them: "500ms", "30s", "5m", "2h", "7d".
struct MessageOptions {
  std::string to_user;
  // The in-app payload, any JSON value as text; or a template of the app with its
  // variables (a JSON object of strings, numbers and booleans) and a locale. Exactly one.
  std::string data_json;
  std::string template_name;
  std::string vars_json;
  std::string locale;
  // E-mail and SMS content when there is no template.
  std::string subject;
  std::string text;
  // The fallback order ("webhook", "email", "sms"); nullopt: the app's delivery settings.
  std::optional<std::vector<std::string>> channels;
  std::string fallback_after;   // empty: the app's, else messages.fallback_after
  std::string ttl;              // empty: messages.default_ttl
  std::string priority;         // "normal" (empty) or "high"
  std::string idempotency_key;  // 1 to 256 bytes, or empty
};

struct MessageSent {
  std::string id;  // msg_...
  std::string state;
  bool duplicate = false;         // the idempotency key was seen: this is the first message
  std::uint64_t connections = 0;  // live connections it was pushed to (0 for a duplicate)
};

// One event of a message's status trail.
struct MessageEvent {
  std::int64_t at_ms = 0;
  std::string event;    // accepted, stored, delivered, acked, fallback_started, fallback_sent, ...
  std::string channel;  // webhook, email, sms, or empty
  std::string detail;   // e.g. "http 500", "no_contact"
  std::optional<std::uint64_t> connections;
};

struct MessageStatus {
  std::string id;
  std::string user;
  std::string state;  // pending, acked, expired
  std::int64_t created_ms = 0;
  std::int64_t expires_ms = 0;
  std::string priority;
  std::string template_name;
  std::vector<std::string> channels;
  std::int64_t fallback_after_ms = 0;
  std::string data_json;
  std::vector<MessageEvent> trail;  // oldest first
};

struct InboxMessage {
  std::string id;
  std::int64_t ts_ms = 0;
  std::string priority;
  std::string template_name;
  std::string data_json;
  std::string cursor;
};

struct InboxPage {
  std::vector<InboxMessage> messages;  // unacknowledged and unexpired, oldest first
  std::optional<std::string> next;     // the `after` of the next page, if there is one
};

struct Contacts {
  std::string user;
  std::optional<std::string> email;
  std::optional<std::string> phone;
};

class ServerClient {
 public:
  explicit ServerClient(ServerClientOptions options);
  ~ServerClient();
  ServerClient(ServerClient&&) noexcept;
  ServerClient& operator=(ServerClient&&) noexcept;
  ServerClient(const ServerClient&) = delete;
  ServerClient& operator=(const ServerClient&) = delete;

  // `data_json` is any JSON value as text ("{\"title\":\"Hello\"}", "42"); it is
  // checked here and sent as it is. `idempotency_key`: 1 to 128 characters, or empty.
  Result<PublishResult> publish(std::string_view channel, std::string_view data_json,
                                std::string_view idempotency_key = {});
  Result<BroadcastResult> broadcast(const std::vector<std::string>& channels, std::string_view data_json,
                                    std::string_view idempotency_key = {});
  Result<PublishResult> publish_to_user(std::string_view user, std::string_view data_json,
                                        std::string_view idempotency_key = {});
  Result<History> history(std::string_view channel, std::optional<std::uint64_t> limit = std::nullopt,
                          std::optional<StreamPosition> since = std::nullopt);
  Result<Presence> presence(std::string_view channel);
  Result<PresenceStats> presence_stats(std::string_view channel);
  // Closes the user's connections on the node that answers; returns how many.
  Result<std::uint64_t> disconnect_user(std::string_view user);
  // The calling app.
  Result<AppInfo> app_info();

  // Key service. Plaintexts and contexts are raw bytes (the SDK base64-encodes them).
  Result<KmsKey> kms_create_key(std::string_view name, bool exportable = false);
  Result<KmsKey> kms_key_info(std::string_view name);
  Result<KmsKey> kms_rotate_key(std::string_view name);
  Result<KmsKey> kms_set_min_decryption_version(std::string_view name, std::uint32_t version);
  Result<std::string> kms_encrypt(std::string_view key, std::string_view plaintext, std::string_view context = {});
  Result<SecretString> kms_decrypt(std::string_view key, std::string_view ciphertext, std::string_view context = {});
  Result<std::string> kms_rewrap(std::string_view key, std::string_view ciphertext, std::string_view context = {});
  Result<KmsDataKey> kms_datakey(std::string_view key, unsigned bits = 256, bool with_plaintext = true,
                                 std::string_view context = {});
  // Many items in one request; each succeeds or fails on its own.
  Result<std::vector<KmsItem>> kms_encrypt_batch(std::string_view key, const std::vector<std::string>& plaintexts,
                                                 std::string_view context = {});
  Result<std::vector<KmsItem>> kms_decrypt_batch(std::string_view key, const std::vector<std::string>& ciphertexts,
                                                 std::string_view context = {});

  // Verification codes (scope otp). Limit refusals carry retry_after_s; a wrong code
  // carries attempts_left.
  Result<OtpSent> otp_send(const OtpSendOptions& options);
  Result<OtpVerified> otp_verify(std::string_view verification_id, std::string_view code);
  Result<OtpRedeemed> otp_redeem(const SecretString& success_token, std::string_view purpose);

  // Messages to users (scope publish).
  Result<MessageSent> send_message(const MessageOptions& options);
  Result<MessageStatus> message_status(std::string_view id);
  Result<InboxPage> inbox(std::string_view user, std::optional<unsigned> limit = std::nullopt,
                          std::string_view after = {});
  // Replaces the user's contacts; nullopt removes one.
  Result<Contacts> set_contacts(std::string_view user, std::optional<std::string> email,
                                std::optional<std::string> phone);
  Result<Contacts> contacts(std::string_view user);  // contacts_not_found when none
  Result<void> delete_contacts(std::string_view user);

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// ---- Admin API -------------------------------------------------------------------

// A new app. Empty lists and unset fields take the server's defaults (scopes
// ["publish"], namespaces ["*"], no CIDR restriction, rate limit 1000/s).
struct AppCreateOptions {
  std::string name;
  std::vector<std::string> scopes;      // publish, otp, kms, admin
  std::vector<std::string> namespaces;  // "*" for all
  std::vector<std::string> allowed_cidrs;
  std::optional<std::uint32_t> rate_limit;  // requests per second; 0 = no cap
  std::vector<std::string> client_public_keys_pem;
  std::string jwt_audience;
  std::string jwt_issuer;
  bool require_exp = true;  // the server's default; false lets client tokens without exp in
  // false: no HS256 client secret; client tokens are then ES256/EdDSA only, checked
  // with client_public_keys_pem (which must not be empty).
  bool client_secret = true;
};

// The answer to create_app: the app and its secrets, which the server shows only once.
struct CreatedApp {
  AppInfo app;
  std::string app_secret_id;
  SecretString app_secret;
  SecretString client_secret;  // empty when created with client_secret = false
  SecretString json;           // the whole answer as the server sent it (it holds the secrets)
};

struct NewSecret {
  std::string secret_id;
  SecretString app_secret;
};

struct OtpBlockEntry {
  std::string to;
  std::string reason;
  std::int64_t created_ms = 0;
};

// An app's delivery settings for messages to users.
struct DeliverySettings {
  std::string webhook_url;  // empty: none
  bool allow_private_webhooks = false;
  std::vector<std::string> fallback;
  std::string fallback_after;
  std::uint64_t max_per_user_per_day = 0;  // 0: no cap
  std::string default_locale;
  bool has_webhook_secret = false;
  std::string json;  // the object as the server sent it
};

// A change of delivery settings: only the fields given change.
struct DeliverySettingsUpdate {
  std::optional<std::string> webhook_url;
  std::optional<bool> allow_private_webhooks;
  std::optional<std::vector<std::string>> fallback;
  std::optional<std::string> fallback_after;
  std::optional<std::uint64_t> max_per_user_per_day;
  std::optional<std::string> default_locale;
  bool rotate_webhook_secret = false;
};

struct DeliverySettingsChanged {
  DeliverySettings settings;
  // The webhook signing secret ("whsec_..."), shown only when this change created or
  // rotated it.
  std::optional<SecretString> webhook_secret;
};

// A webhook that failed every attempt.
struct DeadLetter {
  std::string message_id;
  std::string channel;
  std::uint64_t attempts = 0;
  std::string last_error;
  std::int64_t dead_at_ms = 0;
};

class AdminClient {
 public:
  explicit AdminClient(AdminClientOptions options);
  ~AdminClient();
  AdminClient(AdminClient&&) noexcept;
  AdminClient& operator=(AdminClient&&) noexcept;
  AdminClient(const AdminClient&) = delete;
  AdminClient& operator=(const AdminClient&) = delete;

  // `app` is an app's id (app_...), AppKey (hk_...) or name.
  Result<CreatedApp> create_app(const AppCreateOptions& options);
  Result<std::vector<AppInfo>> list_apps();
  Result<AppInfo> show_app(std::string_view app);
  Result<NewSecret> rotate_secret(std::string_view app);
  Result<void> revoke_secret(std::string_view app, std::string_view secret_id);
  Result<void> suspend(std::string_view app);
  Result<void> resume(std::string_view app);
  Result<void> delete_app(std::string_view app);
  // The app's verification-code blocklist.
  Result<OtpBlockEntry> otp_block(std::string_view app, std::string_view to, std::string_view reason = {});
  Result<void> otp_unblock(std::string_view app, std::string_view to);
  Result<std::vector<OtpBlockEntry>> otp_blocklist(std::string_view app);

  // Messages to users: delivery settings, templates, dead letters, contacts.
  Result<DeliverySettings> delivery_settings(std::string_view app);
  Result<DeliverySettingsChanged> set_delivery_settings(std::string_view app, const DeliverySettingsUpdate& update);
  // A template is JSON text ({"max_per_user_per_day":0,"locales":{"en":{...}}}); the
  // answers are the template as the server holds it.
  Result<std::string> put_template(std::string_view app, std::string_view name, std::string_view template_json);
  Result<std::string> template_json(std::string_view app, std::string_view name);
  Result<std::vector<std::string>> list_templates(std::string_view app);
  Result<void> delete_template(std::string_view app, std::string_view name);
  Result<std::vector<DeadLetter>> dead_letters(std::string_view app, std::optional<unsigned> limit = std::nullopt);
  // Sends the message's webhook again at once, with its attempts reset.
  Result<void> replay_dead_letter(std::string_view app, std::string_view message_id);
  Result<Contacts> set_contacts(std::string_view app, std::string_view user, std::optional<std::string> email,
                                std::optional<std::string> phone);
  Result<Contacts> contacts(std::string_view app, std::string_view user);
  Result<void> delete_contacts(std::string_view app, std::string_view user);

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// ---- Operator: the key service's seal ----------------------------------------------

struct SealStatus {
  bool initialized = false;
  bool sealed = true;
  unsigned threshold = 0;
  unsigned shares = 0;
  unsigned progress = 0;  // shares given towards the next unseal
};

// Status and unseal need no token (the shares are the authority); seal needs the admin
// token (which may be empty for a client that never seals), and so does a reset
// without a share.
class OperatorClient {
 public:
  explicit OperatorClient(AdminClientOptions options);
  ~OperatorClient();
  OperatorClient(OperatorClient&&) noexcept;
  OperatorClient& operator=(OperatorClient&&) noexcept;
  OperatorClient(const OperatorClient&) = delete;
  OperatorClient& operator=(const OperatorClient&) = delete;

  Result<SealStatus> status();
  // One share ("<number>-<hex>"); the status after it.
  Result<SealStatus> unseal(const SecretString& share);
  // Forgets the shares given so far: with the admin token, or by showing any one of the
  // installation's shares (which is not counted towards the unseal).
  Result<SealStatus> reset_unseal();
  Result<SealStatus> reset_unseal(const SecretString& share);
  Result<SealStatus> seal();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace herald::sdk
