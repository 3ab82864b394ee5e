// Every error Herald can report, in one table: its stable code string (what the API and
// the client protocol return), HTTP status, WebSocket close code, where it surfaces, which
// numbers accompany it and a one-line message. A code is an `Errc`, so a misspelt one
// does not compile; docs/errors.md and docs/protocol.md are checked against this table.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <optional>
#include <span>
#include <string_view>

namespace herald {

// Where a code can reach a caller: the HTTP API (docs/errors.md), the client protocol's
// error replies (docs/protocol.md), or only logs, the CLI and tools (internal).
namespace surface {
constexpr std::uint8_t kApi = 1;
constexpr std::uint8_t kProtocol = 2;
constexpr std::uint8_t kInternal = 4;
}  // namespace surface

// X(enumerator, "code", http_status (0: none), ws_close (0: none), surfaces,
//   retry_after applies, attempts_left applies, "message")
// clang-format off
#define HERALD_ERRORS(X) \
  X(kBadRequest, "bad_request", 400, 0, surface::kApi|surface::kProtocol, false, false, "The request is malformed.") \
  X(kNotFound, "not_found", 404, 0, surface::kApi, false, false, "No such route.") \
  X(kMethodNotAllowed, "method_not_allowed", 405, 0, surface::kApi, false, false, "This route does not accept that method.") \
  X(kRequestTimeout, "request_timeout", 408, 0, surface::kApi, false, false, "The request was not received in time.") \
  X(kBodyTooLarge, "body_too_large", 413, 0, surface::kApi, false, false, "The request body exceeds limits.max_body_bytes.") \
  X(kHeaderTooLarge, "header_too_large", 431, 0, surface::kApi, false, false, "The request header exceeds limits.max_header_bytes.") \
  X(kUpgradeRequired, "upgrade_required", 426, 0, surface::kApi, false, false, "This route speaks WebSocket only.") \
  X(kInternal, "internal", 500, 0, surface::kApi|surface::kProtocol, false, false, "An internal error occurred; the request id identifies it in the server log.") \
  X(kNotReady, "not_ready", 503, 0, surface::kApi, false, false, "The server is not ready to serve.") \
  X(kShuttingDown, "shutting_down", 503, 0, surface::kApi, false, false, "The server is shutting down.") \
  X(kAuthMissing, "auth_missing", 401, 0, surface::kApi, false, false, "A signing header is missing or malformed.") \
  X(kMalformedTarget, "malformed_target", 400, 0, surface::kApi, false, false, "The request target has a malformed percent-escape, or a query name that is escaped or repeated.") \
  X(kAppUnknown, "app_unknown", 401, 0, surface::kApi, false, false, "No app has this AppKey.") \
  X(kAppSuspended, "app_suspended", 403, 4001, surface::kApi|surface::kProtocol, false, false, "The app is suspended.") \
  X(kAddressNotAllowed, "address_not_allowed", 403, 0, surface::kApi, false, false, "The client address is not in the app's IP allowlist.") \
  X(kTimestampOutOfWindow, "timestamp_out_of_window", 401, 0, surface::kApi, false, false, "The request timestamp is outside the accepted window.") \
  X(kSignatureInvalid, "signature_invalid", 401, 0, surface::kApi, false, false, "The request signature does not match.") \
  X(kSignatureVersionRefused, "signature_version_refused", 401, 0, surface::kApi, false, false, "The app may not sign with this scheme; use HERALD-HMAC-SHA256-v2.") \
  X(kNonceReplayed, "nonce_replayed", 401, 0, surface::kApi, false, false, "The nonce was used before.") \
  X(kScopeMissing, "scope_missing", 403, 0, surface::kApi, false, false, "The app lacks the scope this route needs.") \
  X(kRateLimited, "rate_limited", 429, 0, surface::kApi|surface::kProtocol, true, false, "The app exceeds its request rate.") \
  X(kReplayGuardFull, "replay_guard_full", 503, 0, surface::kApi, false, false, "Too many requests in the replay window.") \
  X(kInvalidJson, "invalid_json", 400, 0, surface::kApi, false, false, "The body is not a JSON object.") \
  X(kInvalidArgument, "invalid_argument", 400, 0, surface::kApi, false, false, "A field is missing or has the wrong type or value.") \
  X(kIdempotencyConflict, "idempotency_conflict", 409, 0, surface::kApi, false, false, "The idempotency key was used for a different request.") \
  X(kChannelInvalid, "channel_invalid", 400, 0, surface::kApi|surface::kProtocol, false, false, "The channel name is not valid.") \
  X(kNamespaceNotFound, "namespace_not_found", 400, 0, surface::kApi|surface::kProtocol, false, false, "The channel's namespace is not configured.") \
  X(kChannelNotAllowed, "channel_not_allowed", 403, 0, surface::kApi, false, false, "The app may not publish to this channel's namespace.") \
  X(kPublicationTooLarge, "publication_too_large", 413, 0, surface::kApi|surface::kProtocol, false, false, "The data exceeds push.max_publication_bytes.") \
  X(kTooManyChannels, "too_many_channels", 503, 0, surface::kApi|surface::kProtocol, false, false, "The server (push.max_channels) or the app (push.max_channels_per_app) holds all the channels it may.") \
  X(kHistoryDisabled, "history_disabled", 409, 0, surface::kApi|surface::kProtocol, false, false, "The channel's namespace keeps no history.") \
  X(kPresenceDisabled, "presence_disabled", 409, 0, surface::kApi|surface::kProtocol, false, false, "The channel's namespace keeps no presence.") \
  X(kAdminUnauthorized, "admin_unauthorized", 401, 0, surface::kApi, false, false, "The admin token is missing or wrong.") \
  X(kMetricsUnauthorized, "metrics_unauthorized", 401, 0, surface::kApi, false, false, "The metrics bearer token is missing or wrong.") \
  X(kAppNotFound, "app_not_found", 404, 0, surface::kApi, false, false, "No such app.") \
  X(kConflict, "conflict", 409, 0, surface::kApi, false, false, "The change conflicts with the current state; see the message.") \
  X(kTooManySecrets, "too_many_secrets", 409, 0, surface::kApi, false, false, "The app has two active secrets; revoke one first.") \
  X(kLastSecret, "last_secret", 409, 0, surface::kApi, false, false, "The app's only secret cannot be revoked; rotate first.") \
  X(kStoreUnavailable, "store_unavailable", 503, 0, surface::kApi, false, false, "The store could not complete the write.") \
  X(kBrokerUnavailable, "broker_unavailable", 503, 0, surface::kApi|surface::kProtocol, false, false, "The cluster broker (Redis) is unreachable; nothing was published or checked.") \
  X(kSealed, "sealed", 503, 4502, surface::kApi, false, false, "The key service is sealed; unseal it first.") \
  X(kNotInitialized, "not_initialized", 503, 0, surface::kApi, false, false, "The key service is not initialised.") \
  X(kShareInvalid, "share_invalid", 400, 0, surface::kApi, false, false, "The share is not one of this installation's shares, or was altered.") \
  X(kShareDuplicate, "share_duplicate", 409, 0, surface::kApi, false, false, "This share was given already.") \
  X(kUnsealFailed, "unseal_failed", 400, 0, surface::kApi, false, false, "The shares did not rebuild the root key; start over.") \
  X(kAlreadyUnsealed, "already_unsealed", 409, 0, surface::kApi, false, false, "The key service is unsealed already.") \
  X(kKeyNotFound, "key_not_found", 404, 0, surface::kApi, false, false, "No key of this name.") \
  X(kKeyExists, "key_exists", 409, 0, surface::kApi, false, false, "A key of this name exists.") \
  X(kKeyNotExportable, "key_not_exportable", 403, 0, surface::kApi, false, false, "The key was not made exportable.") \
  X(kDeletionNotAllowed, "deletion_not_allowed", 409, 0, surface::kApi, false, false, "Set deletion_allowed on the key first.") \
  X(kKeyPendingDeletion, "key_pending_deletion", 409, 0, surface::kApi, false, false, "The key is deleted after kms.deletion_delay and cannot be used meanwhile; the admin may cancel the deletion.") \
  X(kKmsQuotaExceeded, "kms_quota_exceeded", 409, 0, surface::kApi, false, false, "The app has kms.max_keys_per_app keys, the key kms.max_versions_per_key versions, or the app kms.max_versions_per_app versions in all.") \
  X(kAdminRequired, "admin_required", 403, 0, surface::kApi, false, false, "Only the admin token may change this setting (exportable, deletion_allowed).") \
  X(kVersionNotAllowed, "version_not_allowed", 400, 0, surface::kApi, false, false, "The ciphertext's key version may not be decrypted.") \
  X(kInvalidCiphertext, "invalid_ciphertext", 400, 0, surface::kApi, false, false, "The ciphertext is malformed.") \
  X(kDecryptFailed, "decrypt_failed", 400, 0, surface::kApi, false, false, "The ciphertext does not decrypt with this key and context.") \
  X(kNotFoundCheckpoint, "not_found_checkpoint", 404, 0, surface::kApi, false, false, "No audit checkpoint has been signed yet.") \
  X(kAuditCorrupt, "audit_corrupt", 500, 0, surface::kApi, false, false, "The stored audit log is inconsistent; run herald audit verify.") \
  X(kAuditUnavailable, "audit_unavailable", 503, 0, surface::kApi, false, false, "The audit log cannot write to the store; audited calls are refused until it can.") \
  X(kOtpRecipientBlocked, "otp_recipient_blocked", 403, 0, surface::kApi, false, false, "The recipient is on the app's blocklist.") \
  X(kOtpRecipientNotAllowed, "otp_recipient_not_allowed", 403, 0, surface::kApi, false, false, "This server sends codes only to otp.test_recipients.") \
  X(kOtpTemplateNotFound, "otp_template_not_found", 400, 0, surface::kApi, false, false, "No template of this name is configured.") \
  X(kOtpResendTooSoon, "otp_resend_too_soon", 429, 0, surface::kApi, true, false, "A code was sent to this recipient within otp.resend_cooldown; see retry_after.") \
  X(kOtpRecipientLimit, "otp_recipient_limit", 429, 0, surface::kApi, true, false, "The recipient had otp.per_recipient_per_day codes today; see retry_after.") \
  X(kOtpDeviceLimit, "otp_device_limit", 429, 0, surface::kApi, true, false, "The device had otp.per_device_per_day codes today; see retry_after.") \
  X(kOtpIpLimit, "otp_ip_limit", 429, 0, surface::kApi, true, false, "The client address had otp.per_ip_per_hour codes this hour; see retry_after.") \
  X(kOtpPrefixLimit, "otp_prefix_limit", 429, 0, surface::kApi, true, false, "The app sent otp.sms_per_prefix_per_hour codes to this country calling code this hour; see retry_after.") \
  X(kOtpAppLimit, "otp_app_limit", 429, 0, surface::kApi, true, false, "The app sent otp.per_app_per_minute codes this minute; see retry_after.") \
  X(kOtpBusy, "otp_busy", 503, 0, surface::kApi, false, false, "Too many verifications or limit counters are held; try again later.") \
  X(kOtpVerificationNotFound, "otp_verification_not_found", 404, 0, surface::kApi, false, false, "No such verification for this app (it may have expired).") \
  X(kOtpExpired, "otp_expired", 410, 0, surface::kApi, false, false, "The code expired; send a new one.") \
  X(kOtpVerificationDead, "otp_verification_dead", 410, 0, surface::kApi, false, false, "The verification failed (too many wrong codes, or the code was not delivered).") \
  X(kOtpCodeInvalid, "otp_code_invalid", 400, 0, surface::kApi, false, true, "The code is wrong; attempts_left says how many tries remain.") \
  X(kOtpAlreadyVerified, "otp_already_verified", 409, 0, surface::kApi, false, false, "The code was verified already.") \
  X(kOtpTokenInvalid, "otp_token_invalid", 400, 0, surface::kApi, false, false, "The success token is malformed, altered, or not this app's.") \
  X(kOtpTokenExpired, "otp_token_expired", 410, 0, surface::kApi, false, false, "The success token expired.") \
  X(kOtpTokenUsed, "otp_token_used", 409, 0, surface::kApi, false, false, "The success token was redeemed already.") \
  X(kOtpBlockNotFound, "otp_block_not_found", 404, 0, surface::kApi, false, false, "The recipient is not on the app's blocklist.") \
  X(kOtpPurposeMismatch, "otp_purpose_mismatch", 403, 0, surface::kApi, false, false, "The success token was issued for another purpose.") \
  X(kDeliveryFailed, "delivery_failed", 502, 0, surface::kApi, false, false, "The e-mail or SMS provider refused the message or could not be reached.") \
  X(kDeliveryBusy, "delivery_busy", 503, 0, surface::kApi, false, false, "The outbound queue is full (delivery.queue_max).") \
  X(kMessageNotFound, "message_not_found", 404, 0, surface::kApi|surface::kProtocol, false, false, "No message of this app has this id.") \
  X(kTemplateNotFound, "template_not_found", 404, 0, surface::kApi, false, false, "The app has no template of this name.") \
  X(kTemplateRenderFailed, "template_render_failed", 400, 0, surface::kApi, false, false, "The template cannot be rendered for this message; see the message.") \
  X(kMessageTooLarge, "message_too_large", 413, 0, surface::kApi, false, false, "The message exceeds messages.max_data_bytes.") \
  X(kMessageCapExceeded, "message_cap_exceeded", 429, 0, surface::kApi, true, false, "The user had the most messages allowed today; see retry_after.") \
  X(kContactsNotFound, "contacts_not_found", 404, 0, surface::kApi, false, false, "No contacts are set for this user.") \
  X(kMessagesBusy, "messages_busy", 503, 0, surface::kApi, false, false, "The server holds messages.max_pending unacknowledged messages; try again later.") \
  X(kDeadLetterNotFound, "dead_letter_not_found", 404, 0, surface::kApi, false, false, "The message has no dead-lettered webhook delivery.") \
  X(kUnknownMethod, "unknown_method", 0, 0, surface::kProtocol, false, false, "The method is not one of the protocol's.") \
  X(kNotConnected, "not_connected", 0, 0, surface::kProtocol, false, false, "Send connect first.") \
  X(kAlreadyConnected, "already_connected", 0, 0, surface::kProtocol, false, false, "The connection is connected already.") \
  X(kUnknownApp, "unknown_app", 0, 4001, surface::kProtocol, false, false, "No app has this id.") \
  X(kTokenInvalid, "token_invalid", 0, 4001, surface::kProtocol, false, false, "The token is malformed, its signature or algorithm is wrong, or a claim fails a check.") \
  X(kTokenExpired, "token_expired", 0, 4003, surface::kProtocol, false, false, "The token has expired.") \
  X(kTooManyConnections, "too_many_connections", 0, 4004, surface::kProtocol, false, false, "The user has push.max_connections_per_user connections already.") \
  X(kPermissionDenied, "permission_denied", 0, 0, surface::kProtocol, false, false, "The user may not do this on this channel.") \
  X(kAlreadySubscribed, "already_subscribed", 0, 0, surface::kProtocol, false, false, "The connection is subscribed to this channel already.") \
  X(kNotSubscribed, "not_subscribed", 0, 0, surface::kProtocol, false, false, "The connection is not subscribed to this channel.") \
  X(kTooManySubscriptions, "too_many_subscriptions", 0, 0, surface::kProtocol, false, false, "The connection has push.max_subscriptions_per_connection subscriptions.") \
  X(kChannelFull, "channel_full", 0, 0, surface::kProtocol, false, false, "The channel has its namespace's max_subscribers.") \
  X(kTokenMalformed, "token_malformed", 0, 0, surface::kInternal, false, false, "The token is not a well-formed JWT.") \
  X(kTokenTooLarge, "token_too_large", 0, 0, surface::kInternal, false, false, "The token exceeds the size limit.") \
  X(kTokenAlgNotAllowed, "token_alg_not_allowed", 0, 0, surface::kInternal, false, false, "The token's algorithm is not allowed.") \
  X(kTokenSignatureInvalid, "token_signature_invalid", 0, 0, surface::kInternal, false, false, "No configured key verifies the token's signature.") \
  X(kTokenClaimInvalid, "token_claim_invalid", 0, 0, surface::kInternal, false, false, "A claim of the token is missing or invalid.") \
  X(kTokenNotYetValid, "token_not_yet_valid", 0, 0, surface::kInternal, false, false, "The token is not valid yet (nbf).") \
  X(kTokenIssuedInFuture, "token_issued_in_future", 0, 0, surface::kInternal, false, false, "The token's iat is in the future.") \
  X(kTokenAudienceMismatch, "token_audience_mismatch", 0, 0, surface::kInternal, false, false, "The token is not meant for this audience.") \
  X(kTokenIssuerMismatch, "token_issuer_mismatch", 0, 0, surface::kInternal, false, false, "The token's issuer is not the expected one.") \
  X(kInvalidConfig, "invalid_config", 0, 0, surface::kInternal, false, false, "A configuration value is invalid.") \
  X(kInvalidNumber, "invalid_number", 0, 0, surface::kInternal, false, false, "Expected a whole number in range.") \
  X(kInvalidBool, "invalid_bool", 0, 0, surface::kInternal, false, false, "Expected true or false.") \
  X(kInvalidChoice, "invalid_choice", 0, 0, surface::kInternal, false, false, "Expected one of the allowed values.") \
  X(kInvalidDuration, "invalid_duration", 0, 0, surface::kInternal, false, false, "Expected a duration such as 30s, 5m, 2h or 7d.") \
  X(kInvalidCidr, "invalid_cidr", 0, 0, surface::kInternal, false, false, "Not an IP address or CIDR block.") \
  X(kInvalidKey, "invalid_key", 0, 0, surface::kInternal, false, false, "The key is malformed or of the wrong type.") \
  X(kCryptoError, "crypto_error", 0, 0, surface::kInternal, false, false, "A cryptographic operation failed.") \
  X(kIoError, "io_error", 0, 0, surface::kInternal, false, false, "A file could not be read or written.") \
  X(kTlsError, "tls_error", 0, 0, surface::kInternal, false, false, "The TLS connection failed.") \
  X(kKmsInitFailed, "kms_init_failed", 0, 0, surface::kInternal, false, false, "The key service could not be initialised.") \
  X(kAlreadyInitialized, "already_initialized", 0, 0, surface::kInternal, false, false, "This data directory's key service is initialised already.") \
  X(kAdminTokenFailed, "admin_token_failed", 0, 0, surface::kInternal, false, false, "The admin token file could not be written.") \
  X(kDevAppFailed, "dev_app_failed", 0, 0, surface::kInternal, false, false, "The development app file could not be written.") \
  X(kGatewayStartFailed, "gateway_start_failed", 0, 0, surface::kInternal, false, false, "The gateway could not start (bind, TLS or thread failure).") \
  X(kDuplicate, "duplicate", 0, 0, surface::kInternal, false, false, "A row with this unique key exists.") \
  X(kStoreClosed, "store_closed", 0, 0, surface::kInternal, false, false, "The store is shutting down.") \
  X(kStoreError, "store_error", 0, 0, surface::kInternal, false, false, "Stored data is corrupt or unreadable.") \
  X(kContactsUnreadable, "contacts_unreadable", 0, 0, surface::kInternal, false, false, "The stored contacts do not open.") \
  X(kNoContact, "no_contact", 0, 0, surface::kInternal, false, false, "The user has no contact for this channel.") \
  X(kNoProvider, "no_provider", 0, 0, surface::kInternal, false, false, "No provider is configured for this channel.") \
  X(kNoWebhookUrl, "no_webhook_url", 0, 0, surface::kInternal, false, false, "The app has no webhook URL.") \
  X(kInvalidCheckpoint, "invalid_checkpoint", 0, 0, surface::kInternal, false, false, "The checkpoint is malformed.") \
  X(kCheckpointMismatch, "checkpoint_mismatch", 0, 0, surface::kInternal, false, false, "The log does not match the checkpoint.") \
  X(kCheckpointSignatureInvalid, "checkpoint_signature_invalid", 0, 0, surface::kInternal, false, false, "The checkpoint's signature does not verify.") \
  X(kNotExtension, "not_extension", 0, 0, surface::kInternal, false, false, "The newer checkpoint does not extend the older one.") \
  X(kEntryMissing, "entry_missing", 0, 0, surface::kInternal, false, false, "An audit entry is missing.") \
  X(kEntryOutOfPlace, "entry_out_of_place", 0, 0, surface::kInternal, false, false, "An audit entry is out of place.") \
  X(kEntryChanged, "entry_changed", 0, 0, surface::kInternal, false, false, "An audit entry was changed.") \
  X(kNodeChanged, "node_changed", 0, 0, surface::kInternal, false, false, "A stored tree node was changed.") \
  X(kLogTruncated, "log_truncated", 0, 0, surface::kInternal, false, false, "The audit log was truncated.") \
  X(kCheckpointDeleted, "checkpoint_deleted", 0, 0, surface::kInternal, false, false, "A witnessed checkpoint is no longer stored.")
// clang-format on

enum class Errc : std::uint16_t {
#define HERALD_ERRC_ENUM(name, code, status, close, surfaces, retry, attempts, message) name,
  HERALD_ERRORS(HERALD_ERRC_ENUM)
#undef HERALD_ERRC_ENUM
};

struct ErrcInfo {
  Errc errc;
  std::string_view code;
  int http_status;  // 0: never an HTTP answer
  int ws_close;     // 0: no close code of its own
  std::uint8_t surfaces;
  bool retry_after;    // the answer carries retry_after (and Retry-After)
  bool attempts_left;  // the answer carries attempts_left
  std::string_view message;
};

// The whole table, in declaration order.
std::span<const ErrcInfo> errc_table();
const ErrcInfo& errc_info(Errc e);
inline std::string_view errc_code(Errc e) {
  return errc_info(e).code;
}
// The Errc of a code string (as a peer or a stored record names it); nullopt if unknown.
std::optional<Errc> errc_from_code(std::string_view code);
// Prints the code string (for test failure messages and logs).
std::ostream& operator<<(std::ostream& os, Errc e);

}  // namespace herald
