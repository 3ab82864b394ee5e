// Error catalogue and rendering.
#include "api/errors.h"

#include <boost/json.hpp>

namespace herald::api {
namespace {
constexpr ErrorInfo kErrors[] = {
    {"bad_request", 400, "The request is malformed."},
    {"not_found", 404, "No such route."},
    {"method_not_allowed", 405, "This route does not accept that method."},
    {"request_timeout", 408, "The request was not received in time."},
    {"body_too_large", 413, "The request body exceeds limits.max_body_bytes."},
    {"header_too_large", 431, "The request header exceeds limits.max_header_bytes."},
    {"upgrade_required", 426, "This route speaks WebSocket only."},
    {"internal", 500, "An internal error occurred; the request id identifies it in the server log."},
    {"not_ready", 503, "The server is not ready to serve."},
    {"shutting_down", 503, "The server is shutting down."},
    // Signed server API (docs/signing.md), in the order the checks run.
    {"auth_missing", 401, "A signing header is missing or malformed."},
    {"malformed_target", 400, "The request target has a malformed percent-escape."},
    {"app_unknown", 401, "No app has this AppKey."},
    {"app_suspended", 403, "The app is suspended."},
    {"address_not_allowed", 403, "The client address is not in the app's IP allowlist."},
    {"timestamp_out_of_window", 401, "The request timestamp is outside the accepted window."},
    {"signature_invalid", 401, "The request signature does not match."},
    {"nonce_replayed", 401, "The nonce was used before."},
    {"scope_missing", 403, "The app lacks the scope this route needs."},
    {"rate_limited", 429, "The app exceeds its request rate."},
    {"replay_guard_full", 503, "Too many requests in the replay window."},
    // Request content.
    {"invalid_json", 400, "The body is not a JSON object."},
    {"invalid_argument", 400, "A field is missing or has the wrong type or value."},
    {"channel_invalid", 400, "The channel name is not valid."},
    {"namespace_not_found", 400, "The channel's namespace is not configured."},
    {"channel_not_allowed", 403, "The app may not publish to this channel's namespace."},
    {"publication_too_large", 413, "The data exceeds push.max_publication_bytes."},
    {"too_many_channels", 503, "The server holds push.max_channels channels already."},
    {"history_disabled", 409, "The channel's namespace keeps no history."},
    {"presence_disabled", 409, "The channel's namespace keeps no presence."},
    // Admin API.
    {"admin_unauthorized", 401, "The admin token is missing or wrong."},
    {"app_not_found", 404, "No such app."},
    {"conflict", 409, "The change conflicts with the current state; see the message."},
    {"too_many_secrets", 409, "The app has two active secrets; revoke one first."},
    {"last_secret", 409, "The app's only secret cannot be revoked; rotate first."},
    {"store_unavailable", 503, "The store could not complete the write."},
    // Key management service.
    {"sealed", 503, "The key service is sealed; unseal it first."},
    {"not_initialized", 503, "The key service is not initialised."},
    {"share_invalid", 400, "The share is not one of this installation's shares, or was altered."},
    {"share_duplicate", 409, "This share was given already."},
    {"unseal_failed", 400, "The shares did not rebuild the root key; start over."},
    {"already_unsealed", 409, "The key service is unsealed already."},
    {"key_not_found", 404, "No key of this name."},
    {"key_exists", 409, "A key of this name exists."},
    {"key_not_exportable", 403, "The key was not made exportable."},
    {"deletion_not_allowed", 409, "Set deletion_allowed on the key first."},
    {"version_not_allowed", 400, "The ciphertext's key version may not be decrypted."},
    {"invalid_ciphertext", 400, "The ciphertext is malformed."},
    {"decrypt_failed", 400, "The ciphertext does not decrypt with this key and context."},
    // Audit log.
    {"not_found_checkpoint", 404, "No audit checkpoint has been signed yet."},
    {"audit_corrupt", 500, "The stored audit log is inconsistent; run herald audit verify."},
    // Verification codes (docs/otp.md).
    {"otp_recipient_blocked", 403, "The recipient is on the app's blocklist."},
    {"otp_recipient_not_allowed", 403, "This server sends codes only to otp.test_recipients."},
    {"otp_template_not_found", 400, "No template of this name is configured."},
    {"otp_resend_too_soon", 429, "A code was sent to this recipient within otp.resend_cooldown; see retry_after."},
    {"otp_recipient_limit", 429, "The recipient had otp.per_recipient_per_day codes today; see retry_after."},
    {"otp_device_limit", 429, "The device had otp.per_device_per_day codes today; see retry_after."},
    {"otp_ip_limit", 429, "The client address had otp.per_ip_per_hour codes this hour; see retry_after."},
    {"otp_app_limit", 429, "The app sent otp.per_app_per_minute codes this minute; see retry_after."},
    {"otp_busy", 503, "Too many verifications or limit counters are held; try again later."},
    {"otp_verification_not_found", 404, "No such verification for this app (it may have expired)."},
    {"otp_expired", 410, "The code expired; send a new one."},
    {"otp_verification_dead", 410, "The verification failed (too many wrong codes, or the code was not delivered)."},
    {"otp_code_invalid", 400, "The code is wrong; attempts_left says how many tries remain."},
    {"otp_already_verified", 409, "The code was verified already."},
    {"otp_token_invalid", 400, "The success token is malformed, altered, or not this app's."},
    {"otp_token_expired", 410, "The success token expired."},
    {"otp_token_used", 409, "The success token was redeemed already."},
    {"otp_block_not_found", 404, "The recipient is not on the app's blocklist."},
    {"otp_purpose_mismatch", 403, "The success token was issued for another purpose."},
    // Outbound delivery (docs/delivery.md).
    {"delivery_failed", 502, "The e-mail or SMS provider refused the message or could not be reached."},
    {"delivery_busy", 503, "The outbound queue is full (delivery.queue_max)."},
    // Messages to users (docs/messages.md)
    {"message_not_found", 404, "No message of this app has this id."},
    {"template_not_found", 404, "The app has no template of this name."},
    {"template_render_failed", 400, "The template cannot be rendered for this message; see the message."},
    {"message_too_large", 413, "The message exceeds messages.max_data_bytes."},
    {"message_cap_exceeded", 429, "The user had the most messages allowed today; see retry_after."},
    {"contacts_not_found", 404, "No contacts are set for this user."},
    {"messages_busy", 503, "The server holds messages.max_pending unacknowledged messages; try again later."},
    {"dead_letter_not_found", 404, "The message has no dead-lettered webhook delivery."},
};
}  // namespace

std::span<const ErrorInfo> error_catalogue() { return kErrors; }

const ErrorInfo* find_error(std::string_view code) {
  for (const auto& e : kErrors)
    if (e.code == code) return &e;
  return nullptr;
}

Response error_response(std::string_view code, std::string_view request_id, std::string_view detail) {
  return error_response(code, request_id, detail, {});
}

Response error_from(const Request& req, const Error& e) {
  return error_response(e.code, req.request_id, e.message);
}

Response error_response(std::string_view code, std::string_view request_id, std::string_view detail,
                        std::span<const ErrorField> fields) {
  const ErrorInfo* info = find_error(code);
  if (!info) info = find_error("internal");
  boost::json::object err;
  err["code"] = info->code;
  err["message"] = detail.empty() ? info->message : detail;
  if (!request_id.empty()) err["request_id"] = request_id;
  for (const auto& f : fields) err[f.name] = f.value;
  boost::json::object root;
  root["error"] = std::move(err);
  Response r;
  r.status = info->status;
  r.error_code = std::string(info->code);
  r.body = boost::json::serialize(root);
  for (const auto& f : fields)
    if (f.name == "retry_after") r.headers.emplace_back("Retry-After", std::to_string(f.value));
  return r;
}

}  // namespace herald::api
