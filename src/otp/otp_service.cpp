// Verification codes: send, verify and redeem, and the purger. The record and its codec
// are in verification.cpp, the blocklist in blocklist.cpp.
#include "otp/otp_service.h"

#include <boost/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <unordered_map>

#include "core/log.h"
#include "core/metrics.h"
#include "crypto/encoding.h"
#include "crypto/random.h"
#include "crypto/secret.h"
#include "delivery/recipient.h"
#include "delivery/sender.h"
#include "kms/key_service.h"
#include "otp/recipient.h"
#include "otp/verification.h"
#include "store/store.h"

namespace herald::otp {

namespace json = boost::json;

namespace {

constexpr std::size_t kShards = 16;
constexpr std::string_view kTokenPrefix = "hst1.";
constexpr std::size_t kMaxTokenBytes = 2048;

// `digits` decimal digits, uniform: bytes are drawn until one 32-bit value falls below
// the largest multiple of 10^digits (rejection sampling, no modulo bias).
std::string random_code(unsigned digits) {
  std::uint32_t range = 1;
  for (unsigned i = 0; i < digits; ++i) range *= 10;
  const std::uint32_t limit = (UINT32_MAX / range) * range;
  std::uint32_t v = 0;
  do {
    crypto::random_bytes(reinterpret_cast<unsigned char*>(&v), sizeof v);
  } while (v >= limit);
  v %= range;
  std::string out(digits, '0');
  for (unsigned i = digits; i-- > 0; v /= 10) out[i] = static_cast<char>('0' + v % 10);
  return out;
}

bool all_digits(std::string_view s) {
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

std::string counter_key(char kind, const std::string& app, std::string_view subject) {
  std::string k(1, kind);
  k += ':';
  k += app;
  k += ':';
  k += subject.substr(0, 32);  // 128 bits of a keyed hash name a subject well enough
  return k;
}

std::string verification_ad(const std::string& app, const std::string& id) {
  return "otp_verifications/" + app + "/" + id;
}

}  // namespace

struct OtpService::Shard {
  std::mutex mu;
  std::unordered_map<std::string, std::shared_ptr<Verification>> map;
};

struct OtpService::Metrics {
  metrics::Family<metrics::Counter>* sends = nullptr;
  metrics::Family<metrics::Counter>* verifies = nullptr;
  metrics::Family<metrics::Counter>* redeems = nullptr;
  metrics::Family<metrics::Counter>* limits = nullptr;
  metrics::Gauge* held = nullptr;

  void count(metrics::Family<metrics::Counter>* f, std::vector<std::string> labels) {
    if (f) f->with(labels).inc();
  }
};

OtpService::OtpService(const OtpConfig& cfg, store::Store& store, kms::KeyService& keys, delivery::Senders* senders,
                       std::unique_ptr<LimitCounters> counters, Templates templates, metrics::Registry* registry,
                       Clock clock)
    : cfg_(cfg),
      store_(store),
      keys_(keys),
      senders_(senders),
      counters_(std::move(counters)),
      templates_(std::move(templates)),
      clock_(clock ? std::move(clock) : system_clock()),
      shards_(std::make_unique<Shard[]>(kShards)),
      blocklist_(store, keys),
      m_(std::make_unique<Metrics>()) {
  std::string_view list = cfg_.test_recipients;
  while (!list.empty()) {
    auto comma = list.find(',');
    std::string_view item = list.substr(0, comma);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (!item.empty()) test_recipients_.push_back(normalize_recipient(item));
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  if (registry) {
    m_->sends = &registry->counter("herald_otp_sends_total", "Verification-code sends, by channel and result",
                                   {"channel", "result"});
    m_->verifies = &registry->counter("herald_otp_verifies_total", "Code verifications, by result", {"result"});
    m_->redeems = &registry->counter("herald_otp_redeems_total", "Success-token redemptions, by result", {"result"});
    m_->limits = &registry->counter("herald_otp_limit_refusals_total", "Sends refused by an abuse limit", {"limit"});
    m_->held = &registry->gauge("herald_otp_verifications", "Verifications held (pending or awaiting redeem)").with({});
  }
}

OtpService::~OtpService() {
  stop();
}

std::int64_t OtpService::now() const {
  return clock_();
}

bool OtpService::is_test_recipient(const std::string& normalized) const {
  for (const auto& t : test_recipients_)
    if (t == normalized) return true;
  return false;
}

std::size_t OtpService::pending() const {
  return held_.load(std::memory_order_relaxed);
}

std::shared_ptr<Verification> OtpService::find(const std::string& id) {
  auto& s = shards_[std::hash<std::string>{}(id) % kShards];
  std::lock_guard lock(s.mu);
  auto it = s.map.find(id);
  return it == s.map.end() ? nullptr : it->second;
}

void OtpService::forget(const std::string& id) {
  auto& s = shards_[std::hash<std::string>{}(id) % kShards];
  std::lock_guard lock(s.mu);
  if (s.map.erase(id) > 0) {
    held_.fetch_sub(1, std::memory_order_relaxed);
    if (m_->held) m_->held->dec();
  }
}

// Seals the verification as it is now and queues its write; called with v->mu held, so
// that writes of one verification reach the store in the order of its changes.
void OtpService::persist(const std::shared_ptr<Verification>& v, std::vector<store::OtpCounterRecord> counters,
                         std::function<void(Status)> done) {
  v->purge_at.store(v->purge_ms(), std::memory_order_relaxed);
  auto sealed = keys_.seal(v->app_id, v->to_json(), verification_ad(v->app_id, v->id));
  if (!sealed) return done(sealed.error());
  store_.otp().put_otp_verification(store::OtpVerificationRecord{v->id, v->app_id, std::move(*sealed), v->purge_ms()},
                                    std::move(counters), std::move(done));
}

Status OtpService::load() {
  unload();
  std::int64_t t = now();
  auto recs = store_.otp().load_otp_verifications(t);
  if (!recs) return recs.error();
  std::size_t skipped = 0;
  for (const auto& r : *recs) {
    auto pt = keys_.open(r.app_id, r.sealed, verification_ad(r.app_id, r.id));
    auto v = pt ? Verification::from_json(pt->view()) : nullptr;
    if (!v || v->id != r.id || v->app_id != r.app_id) {
      ++skipped;
      continue;
    }
    v->purge_at.store(v->purge_ms(), std::memory_order_relaxed);
    auto& s = shards_[std::hash<std::string>{}(v->id) % kShards];
    std::lock_guard lock(s.mu);
    if (s.map.emplace(v->id, v).second) held_.fetch_add(1, std::memory_order_relaxed);
  }
  if (skipped > 0)
    log::warn("otp_records_unreadable",
              {{"count", skipped}, {"message", "verifications that do not open were ignored"}});
  if (m_->held) m_->held->set(static_cast<std::int64_t>(held_.load()));
  auto counters = store_.otp().load_otp_counters(t);
  if (!counters) return counters.error();
  counters_->restore(*counters, t);
  auto blocks = store_.otp().load_otp_blocklist();
  if (!blocks) return blocks.error();
  blocklist_.restore(std::move(*blocks));
  return ok_status();
}

Status OtpService::reload_blocklist() {
  for (int attempt = 0; attempt < 3; ++attempt) {
    std::uint64_t read_at = blocklist_.generation();
    auto blocks = store_.otp().load_otp_blocklist();
    if (!blocks) return blocks.error();
    if (blocklist_.replace(std::move(*blocks), read_at)) return ok_status();
  }
  // Blocks of this node kept landing: they bring their own notifications, and the next
  // reload takes the other node's change up with them.
  return ok_status();
}

void OtpService::unload() {
  for (std::size_t i = 0; i < kShards; ++i) {
    std::lock_guard lock(shards_[i].mu);
    shards_[i].map.clear();
  }
  held_.store(0);
  if (m_->held) m_->held->set(0);
  counters_->clear();
  blocklist_.clear();
}

void OtpService::start_purger(std::chrono::milliseconds interval) {
  purger_.start(interval, [this] { purge(); });
}

void OtpService::stop() {
  purger_.stop();
}

void OtpService::purge() {
  std::int64_t t = now();
  std::size_t gone = 0;
  for (std::size_t i = 0; i < kShards; ++i) {
    std::lock_guard lock(shards_[i].mu);
    gone += std::erase_if(shards_[i].map,
                          [t](const auto& kv) { return kv.second->purge_at.load(std::memory_order_relaxed) < t; });
  }
  if (gone > 0) {
    held_.fetch_sub(gone, std::memory_order_relaxed);
    if (m_->held) m_->held->dec(static_cast<std::int64_t>(gone));
  }
  counters_->purge(t);
  store_.otp().purge_otp(t, [](Status st) {
    if (!st) log::warn("otp_purge_failed", {{"error", st.error().message}});
  });
}

namespace {

// The request's fields, each checked before anything is looked up or counted.
Status validate_send(const SendRequest& r) {
  auto invalid = [](std::string message) { return make_error(Errc::kInvalidArgument, std::move(message)); };
  if (r.channel != "sms" && r.channel != "email") return invalid("channel must be sms or email");
  if (r.channel == "sms" && !delivery::valid_e164(r.to))
    return invalid("to must be a phone number in E.164 form (+ and 7 to 15 digits) for channel sms");
  if (r.channel == "email" && !delivery::valid_email(r.to))
    return invalid("to must be an e-mail address (ASCII, at most 254 characters) for channel email");
  if (!valid_device_id(r.device_id))
    return invalid("device_id must be 1 to 128 printable ASCII characters without spaces");
  if (!valid_purpose(r.purpose)) return invalid("purpose must be 1 to 64 of [a-z0-9_.-]");
  if (!r.template_name.empty() && !valid_purpose(r.template_name))
    return invalid("template must be 1 to 64 of [a-z0-9_.-]");
  if (!r.locale.empty() && !delivery::valid_locale(r.locale))
    return invalid("locale must be a language tag such as en or pt-BR");
  if (!valid_ip(r.client_ip)) return invalid("client_ip must be an IPv4 or IPv6 address");
  return ok_status();
}

// The keyed hashes the limits and the blocklist know a request's subjects by, so that
// neither holds an address in the clear.
struct SubjectIndexes {
  std::string recipient;        // the blocklist's: the normal form
  std::string recipient_limit;  // the limits': aliases of one inbox share it
  std::string device;
  std::string ip;      // of the canonical address or /64
  std::string prefix;  // SMS: the country calling code; e-mail: empty
};

Result<SubjectIndexes> subject_indexes(kms::KeyService& keys, const SendRequest& r, const std::string& normalized_to) {
  // Limits count canonical forms, so that respelling an address or an inbox does not
  // buy a fresh budget (validate_send has checked that client_ip parses).
  auto rindex = keys.blind_index(r.app_id, "otp-recipient", normalized_to);
  auto lindex = keys.blind_index(r.app_id, "otp-recipient", recipient_limit_key(normalized_to));
  auto dindex = keys.blind_index(r.app_id, "otp-device", r.device_id);
  auto iindex = keys.blind_index(r.app_id, "otp-ip", ip_limit_key(r.client_ip).value_or(r.client_ip));
  if (!rindex) return rindex.error();
  if (!lindex) return lindex.error();
  if (!dindex) return dindex.error();
  if (!iindex) return iindex.error();
  return SubjectIndexes{std::move(*rindex), std::move(*lindex), std::move(*dindex), std::move(*iindex),
                        r.channel == "sms" ? calling_code(r.to) : std::string()};
}

// Limits, most global first: a flood from one app is refused before it can use up a
// recipient's day. Test recipients count only against the app's rate.
std::vector<LimitCheck> limit_checks(const OtpConfig& cfg, const std::string& app, const SubjectIndexes& idx,
                                     bool test) {
  std::vector<LimitCheck> checks;
  checks.push_back(LimitCheck{Limit::App, counter_key('a', app, ""), cfg.per_app_per_minute, 60'000, true});
  if (!test && !idx.prefix.empty())
    checks.push_back(
        LimitCheck{Limit::Prefix, counter_key('p', app, idx.prefix), cfg.sms_per_prefix_per_hour, 3'600'000, true});
  if (!test) {
    checks.push_back(
        LimitCheck{Limit::Cooldown, counter_key('c', app, idx.recipient_limit), 1, cfg.resend_cooldown.count(), false});
    checks.push_back(LimitCheck{Limit::Recipient, counter_key('r', app, idx.recipient_limit), cfg.per_recipient_per_day,
                                86'400'000, true});
    checks.push_back(
        LimitCheck{Limit::Device, counter_key('d', app, idx.device), cfg.per_device_per_day, 86'400'000, true});
    checks.push_back(LimitCheck{Limit::Ip, counter_key('i', app, idx.ip), cfg.per_ip_per_hour, 3'600'000, true});
  }
  return checks;
}

Error limit_error(const LimitRefusal& refusal) {
  std::string msg = refusal.limit == Limit::Capacity
                        ? "too many limit counters are held; try again later"
                        : "limit " + std::string(limit_label(refusal.limit)) + " reached; retry after " +
                              std::to_string(refusal.retry_after_s) + " s";
  return Error{limit_error_code(refusal.limit), std::move(msg)};
}

// A new pending verification, and the message that carries its code; the code itself
// is kept only as a keyed hash.
struct Draft {
  std::shared_ptr<Verification> v;
  delivery::OutboundMessage msg;
};

Result<Draft> draft(kms::KeyService& keys, const OtpConfig& cfg, const SendRequest& r,
                    const std::string& recipient_index, const MessageTemplate& tmpl, std::int64_t t) {
  auto v = std::make_shared<Verification>();
  v->id = "otp_" + crypto::random_hex(16);
  v->app_id = r.app_id;
  v->to = r.to;
  v->channel = r.channel;
  v->device_id = r.device_id;
  v->purpose = r.purpose;
  v->recipient_index = recipient_index;
  v->created_ms = t;
  v->expires_ms = t + cfg.code_ttl.count();
  const std::string code = random_code(static_cast<unsigned>(cfg.code_length));
  auto hash = keys.blind_index(r.app_id, "otp-code", v->id + ":" + code);
  if (!hash) return hash.error();
  v->code_hash = std::move(*hash);

  TemplateVars vars{code, r.app_name, std::to_string((cfg.code_ttl.count() + 59'999) / 60'000), r.purpose};
  delivery::OutboundMessage msg;
  msg.channel = r.channel;
  msg.to = r.to;
  msg.reference = v->id;
  msg.secret = code;
  if (r.channel == "sms") {
    msg.text = Templates::render(tmpl.sms, vars);
  } else {
    msg.subject = Templates::render(tmpl.email_subject, vars);
    msg.text = Templates::render(tmpl.email_body, vars);
  }
  v->purge_at.store(v->purge_ms(), std::memory_order_relaxed);
  return Draft{std::move(v), std::move(msg)};
}

}  // namespace

void OtpService::send(SendRequest r, Done<SendResult> done) {
  const std::string channel = r.channel;
  auto refuse = [this, &done, &channel](const Error& e, std::int64_t retry_after = 0) {
    m_->count(m_->sends, {channel == "sms" || channel == "email" ? channel : "invalid", std::string(e.code_name())});
    Error out = e;
    out.retry_after_s = retry_after;
    done(std::move(out));
  };
  if (auto st = validate_send(r); !st) return refuse(st.error());
  if (keys_.sealed()) return refuse(Error{Errc::kSealed, "the key service is sealed"});

  const std::string norm = normalize_recipient(r.to);
  const bool test = is_test_recipient(norm);
  if (cfg_.test_recipients_only && !test)
    return refuse(Error{Errc::kOtpRecipientNotAllowed, "only otp.test_recipients may be sent codes on this server"});
  auto tmpl = templates_.find(r.template_name, r.purpose, r.locale);
  if (!tmpl) return refuse(tmpl.error());
  auto idx = subject_indexes(keys_, r, norm);
  if (!idx) return refuse(idx.error());
  if (blocklist_.contains(r.app_id, idx->recipient))
    return refuse(Error{Errc::kOtpRecipientBlocked, "the recipient is on the app's blocklist"});
  delivery::Sender* sender = senders_ ? senders_->for_channel(r.channel) : nullptr;
  if (!sender) return refuse(Error{Errc::kDeliveryFailed, "no provider is configured for channel " + r.channel});
  if (held_.load(std::memory_order_relaxed) >= cfg_.max_pending)
    return refuse(Error{Errc::kOtpBusy, "too many verifications are pending; try again later"});

  std::int64_t t = now();
  auto taken = counters_->take(limit_checks(cfg_, r.app_id, *idx, test), t);
  if (auto* refusal = std::get_if<LimitRefusal>(&taken)) {
    m_->count(m_->limits, {std::string(limit_label(refusal->limit))});
    return refuse(limit_error(*refusal), refusal->retry_after_s);
  }
  auto d = draft(keys_, cfg_, r, idx->recipient, *tmpl, t);
  if (!d) return refuse(d.error());
  hold(d->v);
  SendResult result{d->v->id, cfg_.code_ttl.count() / 1000, test ? 0 : (cfg_.resend_cooldown.count() + 999) / 1000};
  deliver(std::move(d->v), sender, std::move(d->msg), std::move(result),
          std::move(std::get<std::vector<store::OtpCounterRecord>>(taken)), std::move(done));
}

void OtpService::hold(const std::shared_ptr<Verification>& v) {
  {
    auto& s = shards_[std::hash<std::string>{}(v->id) % kShards];
    std::lock_guard lock(s.mu);
    s.map.emplace(v->id, v);
  }
  held_.fetch_add(1, std::memory_order_relaxed);
  if (m_->held) m_->held->inc();
}

// The code leaves only once the verification that checks it is durable; a code that
// never arrived kills its verification.
void OtpService::deliver(std::shared_ptr<Verification> v, delivery::Sender* sender, delivery::OutboundMessage msg,
                         SendResult result, std::vector<store::OtpCounterRecord> counters, Done<SendResult> done) {
  const std::string channel = v->channel;
  std::lock_guard vlock(v->mu);
  persist(v, std::move(counters),
          [this, v, sender, msg = std::move(msg), result = std::move(result), done = std::move(done),
           channel](Status st) mutable {
            if (!st) {
              log::error("otp_store_failed", {{"error", st.error().message}});
              forget(v->id);
              m_->count(m_->sends, {channel, "store_unavailable"});
              return done(make_error(Errc::kStoreUnavailable, "the verification could not be stored"));
            }
            sender->send(std::move(msg), [this, v, result = std::move(result), done = std::move(done),
                                          channel](Status sent) mutable {
              if (sent) {
                m_->count(m_->sends, {channel, "ok"});
                return done(std::move(result));
              }
              // Nothing arrived: the verification can never succeed.
              {
                std::lock_guard lock(v->mu);
                v->state = State::Dead;
                persist(v, {}, [](Status) {});
              }
              Errc code = sent.error().code == Errc::kDeliveryBusy ? Errc::kDeliveryBusy : Errc::kDeliveryFailed;
              m_->count(m_->sends, {channel, std::string(errc_code(code))});
              done(make_error(code, sent.error().message));
            });
          });
}

namespace {

// "hst1.<payload>.<mac>": the payload names the verification, the app, the purpose and
// the expiry, and the app's key MACs it, so redeem checks a token before looking anything up.
std::optional<std::string> success_token(kms::KeyService& keys, const Verification& v) {
  json::object payload{{"v", v.id},        {"a", v.app_id},
                       {"p", v.purpose},   {"r", v.recipient_index.substr(0, 32)},
                       {"d", v.device_id}, {"e", v.token_expires_ms}};
  std::string signed_part = std::string(kTokenPrefix) + crypto::base64url_encode(json::serialize(payload));
  auto mac = keys.blind_index(v.app_id, "otp-token", signed_part);
  auto raw = mac ? crypto::hex_decode(*mac) : std::nullopt;
  if (!raw) return std::nullopt;
  return signed_part + "." + crypto::base64url_encode(*raw);
}

}  // namespace

// Called with v->mu held: the attempt counts once it is durable, and the last one allowed
// kills the verification.
void OtpService::record_wrong_code(const std::shared_ptr<Verification>& v, Done<VerifyResult> done) {
  ++v->attempts;
  int left = static_cast<int>(cfg_.max_attempts) - static_cast<int>(v->attempts);
  if (left <= 0) {
    left = 0;
    v->state = State::Dead;
  }
  persist(v, {}, [this, done = std::move(done), left](Status st) {
    if (!st) {
      m_->count(m_->verifies, {"store_unavailable"});
      return done(make_error(Errc::kStoreUnavailable, "the attempt could not be recorded"));
    }
    m_->count(m_->verifies, {"otp_code_invalid"});
    Error out{Errc::kOtpCodeInvalid, left > 0 ? "the code is wrong" : "the code is wrong; no attempts are left"};
    out.attempts_left = left;
    done(std::move(out));
  });
}

void OtpService::verify(const std::string& app_id, const std::string& verification_id, const std::string& code,
                        Done<VerifyResult> done) {
  auto refuse = [this, &done](Errc c, std::string message, int attempts_left = -1) {
    m_->count(m_->verifies, {std::string(errc_code(c))});
    Error out{c, std::move(message)};
    out.attempts_left = attempts_left;
    done(std::move(out));
  };
  if (verification_id.empty() || verification_id.size() > 64)
    return refuse(Errc::kInvalidArgument, "verification_id must be the id that send returned");
  if (code.empty() || code.size() > 16 || !all_digits(code))
    return refuse(Errc::kInvalidArgument, "code must be 1 to 16 digits");
  if (keys_.sealed()) return refuse(Errc::kSealed, "the key service is sealed");
  auto v = find(verification_id);
  if (!v || v->app_id != app_id)
    return refuse(Errc::kOtpVerificationNotFound, "no such verification (it may have expired)");
  std::int64_t t = now();
  std::unique_lock lock(v->mu);
  switch (v->state) {
    case State::Verified:
    case State::Redeemed:
      return refuse(Errc::kOtpAlreadyVerified, "the code was verified already");
    case State::Dead:
      return refuse(Errc::kOtpVerificationDead, "the verification failed; send a new code");
    case State::Pending:
      break;
  }
  if (t >= v->expires_ms) return refuse(Errc::kOtpExpired, "the code expired; send a new one");
  auto hash = keys_.blind_index(app_id, "otp-code", v->id + ":" + code);
  if (!hash) return refuse(hash.error().code, hash.error().message);
  if (!crypto::ct_equal(*hash, v->code_hash)) return record_wrong_code(v, std::move(done));
  v->state = State::Verified;
  v->token_expires_ms = t + cfg_.token_ttl.count();
  auto token = success_token(keys_, *v);
  if (!token) {
    v->state = State::Pending;
    v->token_expires_ms = 0;
    return refuse(Errc::kInternal, "the success token could not be signed");
  }
  VerifyResult result{std::move(*token), cfg_.token_ttl.count() / 1000};
  persist(v, {}, [this, result = std::move(result), done = std::move(done)](Status st) mutable {
    if (!st) {
      m_->count(m_->verifies, {"store_unavailable"});
      return done(make_error(Errc::kStoreUnavailable, "the verification could not be recorded"));
    }
    m_->count(m_->verifies, {"ok"});
    done(std::move(result));
  });
}

void OtpService::redeem(const std::string& app_id, const std::string& token, const std::string& purpose,
                        Done<RedeemResult> done) {
  auto refuse = [this, &done](Errc c, std::string message) {
    m_->count(m_->redeems, {std::string(errc_code(c))});
    done(make_error(c, std::move(message)));
  };
  if (!valid_purpose(purpose)) return refuse(Errc::kInvalidArgument, "purpose must be 1 to 64 of [a-z0-9_.-]");
  if (keys_.sealed()) return refuse(Errc::kSealed, "the key service is sealed");
  std::string_view tok = token;
  auto dot = tok.rfind('.');
  if (tok.size() > kMaxTokenBytes || tok.substr(0, kTokenPrefix.size()) != kTokenPrefix ||
      dot == std::string_view::npos || dot < kTokenPrefix.size())
    return refuse(Errc::kOtpTokenInvalid, "the success token is malformed");
  std::string_view signed_part = tok.substr(0, dot);
  auto mac = keys_.blind_index(app_id, "otp-token", signed_part);
  if (!mac) return refuse(mac.error().code, mac.error().message);
  auto raw = crypto::hex_decode(*mac);
  if (!raw || !crypto::ct_equal(crypto::base64url_encode(*raw), tok.substr(dot + 1)))
    return refuse(Errc::kOtpTokenInvalid, "the success token's signature does not match");
  auto payload_text = crypto::base64url_decode(signed_part.substr(kTokenPrefix.size()));
  json::error_code ec;
  json::value pv = payload_text ? json::parse(*payload_text, ec) : json::value();
  if (!payload_text || ec || !pv.is_object()) return refuse(Errc::kOtpTokenInvalid, "the success token is malformed");
  const auto& p = pv.get_object();
  auto* vid = p.if_contains("v");
  auto* app = p.if_contains("a");
  auto* exp = p.if_contains("e");
  if (!vid || !vid->is_string() || !app || !app->is_string() || app->get_string() != app_id || !exp || !exp->is_int64())
    return refuse(Errc::kOtpTokenInvalid, "the success token is malformed");
  if (now() >= exp->get_int64()) return refuse(Errc::kOtpTokenExpired, "the success token expired");
  auto v = find(std::string(vid->get_string()));
  if (!v || v->app_id != app_id) return refuse(Errc::kOtpTokenInvalid, "the success token names no verification");
  std::lock_guard lock(v->mu);
  if (v->purpose != purpose)
    return refuse(Errc::kOtpPurposeMismatch, "the success token was issued for another purpose");
  if (v->state == State::Redeemed) return refuse(Errc::kOtpTokenUsed, "the success token was redeemed already");
  if (v->state != State::Verified) return refuse(Errc::kOtpTokenInvalid, "the verification is not in a verified state");
  v->state = State::Redeemed;
  RedeemResult result{v->to, v->device_id, v->purpose};
  persist(v, {}, [this, result = std::move(result), done = std::move(done)](Status st) mutable {
    if (!st) {
      m_->count(m_->redeems, {"store_unavailable"});
      return done(make_error(Errc::kStoreUnavailable, "the redemption could not be recorded"));
    }
    m_->count(m_->redeems, {"ok"});
    done(std::move(result));
  });
}

void OtpService::block(const std::string& app_id, const std::string& to, const std::string& reason,
                       Done<BlockEntry> done) {
  blocklist_.block(app_id, to, reason, now(), std::move(done));
}

void OtpService::unblock(const std::string& app_id, const std::string& to, Done<bool> done) {
  blocklist_.unblock(app_id, to, std::move(done));
}

Result<std::vector<BlockEntry>> OtpService::blocked(const std::string& app_id) {
  return blocklist_.list(app_id);
}

}  // namespace herald::otp
