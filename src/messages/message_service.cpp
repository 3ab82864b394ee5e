// The messages service: publish, inbox, acknowledgements, fallback scheduling.
#include "messages/message_service.h"

#include <boost/json.hpp>

#include <algorithm>
#include <charconv>
#include <random>

#include "core/duration.h"
#include "core/json_fields.h"
#include "core/json_finite.h"
#include "core/log.h"
#include "core/metrics.h"
#include "crypto/random.h"
#include "delivery/sender.h"
#include "kms/key_service.h"
#include "otp/recipient.h"
#include "store/store.h"

namespace herald::messages {
namespace json = boost::json;
using store::MessageChange;
using store::MessageEventRecord;
using store::MessageRecord;
using store::MessageState;
using store::WebhookJobRecord;
using store::WebhookJobState;

namespace {

constexpr std::size_t kDueBatch = 512;
constexpr std::size_t kPurgeBatch = 1000;
constexpr std::size_t kTrailMax = 200;
constexpr std::size_t kMaxCapCounters = 4'000'000;
constexpr std::int64_t kMaxFallbackAfterMs = 30LL * 86'400'000;
constexpr std::size_t kMaxIdempotencyKey = 256;
constexpr std::size_t kMaxTemplatesPerApp = 1000;
constexpr std::size_t kMaxTemplateBytes = 64 * 1024;

const char* state_name(MessageState s) {
  switch (s) {
    case MessageState::pending:
      return "pending";
    case MessageState::acked:
      return "acked";
    case MessageState::expired:
      return "expired";
  }
  return "pending";
}

bool valid_channel(std::string_view c) {
  return c == "webhook" || c == "email" || c == "sms";
}

std::int64_t utc_day(std::int64_t ms) {
  return ms / 86'400'000;
}

// "msg_<seq>_<random>" -> seq, or 0.
std::uint64_t seq_of(std::string_view id) {
  if (id.size() > 64 || id.substr(0, 4) != "msg_") return 0;
  auto rest = id.substr(4);
  auto us = rest.find('_');
  if (us == std::string_view::npos) return 0;
  std::uint64_t seq = 0;
  auto [p, ec] = std::from_chars(rest.data(), rest.data() + us, seq);
  if (ec != std::errc{} || p != rest.data() + us) return 0;
  return seq;
}

std::string message_ad(std::string_view app_id, std::string_view id) {
  return "messages/" + std::string(app_id) + "/" + std::string(id);
}

Result<std::int64_t> duration_field(const json::object& o, std::string_view key, std::int64_t min_ms,
                                    std::int64_t max_ms) {
  const json::value* v = o.if_contains(key);
  if (!v->is_string()) return make_error("invalid_argument", std::string(key) + " must be a duration such as \"30s\"");
  auto d = parse_duration(v->get_string());
  if (!d) return make_error("invalid_argument", std::string(key) + ": " + d.error().message);
  if (d->count() < min_ms || d->count() > max_ms)
    return make_error("invalid_argument", std::string(key) + " must be between " + format_duration(Millis(min_ms)) +
                                              " and " + format_duration(Millis(max_ms)));
  return d->count();
}

Result<std::vector<std::string>> channels_field(const json::value& v, std::string_view key) {
  if (!v.is_array()) return make_error("invalid_argument", std::string(key) + " must be an array");
  std::vector<std::string> out;
  for (const auto& e : v.get_array()) {
    if (!e.is_string() || !valid_channel(e.get_string()))
      return make_error("invalid_argument", std::string(key) + " holds only \"webhook\", \"email\" and \"sms\"");
    std::string c(e.get_string());
    if (std::find(out.begin(), out.end(), c) != out.end())
      return make_error("invalid_argument", std::string(key) + " names " + c + " twice");
    out.push_back(std::move(c));
  }
  return out;
}

Result<std::string> optional_string(const json::object& o, std::string_view key, std::size_t max) {
  const json::value* v = o.if_contains(key);
  if (!v || v->is_null()) return std::string();
  if (!v->is_string()) return make_error("invalid_argument", std::string(key) + " must be a string");
  if (v->get_string().size() > max)
    return make_error("invalid_argument", std::string(key) + " is longer than " + std::to_string(max) + " bytes");
  return std::string(v->get_string());
}

std::string settings_plaintext(const DeliverySettings& s) {
  json::array fb;
  for (const auto& c : s.fallback) fb.push_back(json::string(c));
  return json::serialize(json::object{{"webhook_url", s.webhook_url},
                                      {"webhook_secret", s.webhook_secret},
                                      {"allow_private_webhooks", s.allow_private_webhooks},
                                      {"fallback", std::move(fb)},
                                      {"fallback_after_ms", s.fallback_after_ms},
                                      {"max_per_user_per_day", s.max_per_user_per_day},
                                      {"default_locale", s.default_locale}});
}

Result<DeliverySettings> settings_from(std::string_view text) {
  boost::system::error_code ec;
  auto v = json::parse(text, ec);
  if (ec || !v.is_object()) return make_error("store_error", "stored delivery settings are not JSON");
  const auto& o = v.get_object();
  DeliverySettings s;
  auto str = [&](const char* k) {
    return o.contains(k) && o.at(k).is_string() ? std::string(o.at(k).get_string()) : "";
  };
  s.webhook_url = str("webhook_url");
  s.webhook_secret = str("webhook_secret");
  s.default_locale = str("default_locale");
  if (s.default_locale.empty()) s.default_locale = "en";
  s.allow_private_webhooks = o.contains("allow_private_webhooks") && o.at("allow_private_webhooks").is_bool() &&
                             o.at("allow_private_webhooks").get_bool();
  if (o.contains("fallback") && o.at("fallback").is_array())
    for (const auto& c : o.at("fallback").get_array())
      if (c.is_string()) s.fallback.emplace_back(c.get_string());
  if (o.contains("fallback_after_ms") && o.at("fallback_after_ms").is_int64())
    s.fallback_after_ms = o.at("fallback_after_ms").get_int64();
  if (o.contains("max_per_user_per_day") && o.at("max_per_user_per_day").is_number())
    s.max_per_user_per_day = o.at("max_per_user_per_day").to_number<std::uint64_t>();
  return s;
}

json::object settings_view(const DeliverySettings& s) {
  json::array fb;
  for (const auto& c : s.fallback) fb.push_back(json::string(c));
  json::object o{{"webhook_url", s.webhook_url},
                 {"has_webhook_secret", !s.webhook_secret.empty()},
                 {"allow_private_webhooks", s.allow_private_webhooks},
                 {"fallback", std::move(fb)},
                 {"max_per_user_per_day", s.max_per_user_per_day},
                 {"default_locale", s.default_locale}};
  if (s.fallback_after_ms > 0)
    o["fallback_after"] = format_duration(Millis(s.fallback_after_ms));
  else
    o["fallback_after"] = nullptr;
  return o;
}

// Checks a webhook URL: absolute http(s) with a host, no credentials, no fragment.
Status check_webhook_url(std::string_view url, bool allow_private) {
  if (url.empty()) return ok_status();
  if (url.size() > 2048) return make_error("invalid_argument", "webhook_url is longer than 2048 bytes");
  bool https = url.rfind("https://", 0) == 0;
  bool http = url.rfind("http://", 0) == 0;
  if (!https && !http) return make_error("invalid_argument", "webhook_url must be an https:// URL");
  if (http && !allow_private)
    return make_error("invalid_argument", "webhook_url must be https:// (http:// only with allow_private_webhooks)");
  auto rest = url.substr(https ? 8 : 7);
  auto host_end = rest.find_first_of("/?#");
  auto authority = rest.substr(0, host_end);
  if (authority.empty()) return make_error("invalid_argument", "webhook_url has no host");
  if (authority.find('@') != std::string_view::npos)
    return make_error("invalid_argument", "webhook_url must not carry credentials");
  if (url.find('#') != std::string_view::npos)
    return make_error("invalid_argument", "webhook_url must not have a fragment");
  for (char c : url)
    if (static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7f)
      return make_error("invalid_argument", "webhook_url has a space or a non-ASCII character");
  return ok_status();
}

}  // namespace

struct MessageService::Metrics {
  explicit Metrics(metrics::Registry& r)
      : published(&r.counter("herald_messages_published_total", "Messages accepted and stored").with({})),
        duplicates(&r.counter("herald_messages_duplicates_total",
                              "Publishes answered with an earlier message (same idempotency key)")
                        .with({})),
        refused(&r.counter("herald_messages_refused_total", "Publishes refused, by reason", {"reason"})),
        events(&r.counter("herald_messages_events_total", "Status-trail events, by event", {"event"})),
        delivered(&r.counter("herald_messages_delivered_total", "Message pushes to live connections").with({})),
        acked(&r.counter("herald_messages_acked_total", "Messages acknowledged by their user").with({})),
        expired(&r.counter("herald_messages_expired_total", "Messages that expired unacknowledged").with({})),
        fallback(&r.counter("herald_messages_fallback_total", "Fallback sends, by channel and outcome",
                            {"channel", "outcome"})),
        dead(&r.counter("herald_messages_dead_letters_total", "Webhook deliveries given up (dead-lettered)").with({})),
        pending(&r.gauge("herald_messages_pending", "Unacknowledged, unexpired messages held").with({})) {
    for (std::size_t i = 0; i < std::size(kEvents); ++i) event_counters[i] = &events->with({std::string(kEvents[i])});
  }
  static constexpr std::string_view kEvents[] = {"accepted",         "stored",        "delivered",       "acked",
                                                 "fallback_started", "fallback_sent", "retry_scheduled", "failed",
                                                 "dead_lettered",    "replayed",      "expired"};
  metrics::Counter* event_counters[std::size(kEvents)] = {};
  metrics::Counter* published;
  metrics::Counter* duplicates;
  metrics::Family<metrics::Counter>* refused;
  metrics::Family<metrics::Counter>* events;
  metrics::Counter* delivered;
  metrics::Counter* acked;
  metrics::Counter* expired;
  metrics::Family<metrics::Counter>* fallback;
  metrics::Counter* dead;
  metrics::Gauge* pending;
};

// A message's sealed part, opened.
struct MessageService::Opened {
  std::string user;
  json::value data;
  std::string priority = "normal";
  std::vector<std::string> channels;
  std::int64_t fallback_after_ms = 0;
  std::string email_subject, email_text, sms_text;
};

MessageService::MessageService(const MessagesConfig& cfg, store::Store& db, kms::KeyService& keys,
                               delivery::Senders* senders, WebhookPoster webhooks, metrics::Registry* registry,
                               Clock clock)
    : cfg_(cfg),
      db_(db),
      records_(db.messages()),
      keys_(keys),
      senders_(senders),
      webhooks_(std::move(webhooks)),
      clock_(std::move(clock)) {
  static metrics::Registry fallback_registry;
  m_ = std::make_unique<Metrics>(registry ? *registry : fallback_registry);
}

MessageService::~MessageService() {
  stop();
  // Completions of this service's writes (and of sends under way) refer to it: let
  // them finish first. The store runs completions in order on one thread, so once an
  // empty write submitted now completes, every earlier one has.
  for (int i = 0; i < 500 && in_flight() > 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  (void)store::wait_for([this](store::Completion done) { records_.add_message_events({}, std::move(done)); });
}

void MessageService::set_pusher(UserPusher pusher) {
  pusher_ = std::move(pusher);
}

std::int64_t MessageService::now() const {
  if (clock_) return clock_();
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void MessageService::count_event(std::string_view event) {
  for (std::size_t i = 0; i < std::size(Metrics::kEvents); ++i)
    if (Metrics::kEvents[i] == event) return m_->event_counters[i]->inc();
  m_->events->with({std::string(event)}).inc();
}

Status MessageService::load() {
  auto max_seq = records_.max_message_seq();
  if (!max_seq) return max_seq.error();
  // Sequence numbers must grow across restarts; the wall clock in microseconds keeps
  // them ahead of any number handed out but never stored before a crash.
  next_seq_ = *max_seq + 1;
  auto settings = records_.load_message_settings();
  if (!settings) return settings.error();
  auto templates = records_.load_message_templates();
  if (!templates) return templates.error();
  std::map<std::string, std::shared_ptr<const DeliverySettings>, std::less<>> s_map;
  for (const auto& r : *settings) {
    auto pt = keys_.open(r.app_id, r.sealed, "message_settings/" + r.app_id);
    if (!pt) return make_error("store_error", "the delivery settings of app " + r.app_id + " do not open");
    auto s = settings_from(pt->view());
    if (!s) return s.error();
    s_map[r.app_id] = std::make_shared<const DeliverySettings>(std::move(*s));
  }
  std::map<std::pair<std::string, std::string>, Template, std::less<>> t_map;
  for (const auto& r : *templates) {
    boost::system::error_code ec;
    auto v = json::parse(r.body, ec);
    if (ec || !v.is_object()) return make_error("store_error", "template " + r.name + " is not JSON");
    auto t = Template::parse(r.name, v.get_object());
    if (!t) return make_error("store_error", "template " + r.name + ": " + t.error().message);
    t_map[{r.app_id, r.name}] = std::move(*t);
  }
  // Today's counts for the caps that exist.
  std::int64_t today_start = utc_day(now()) * 86'400'000;
  auto counts = records_.message_cap_counts(today_start);
  if (!counts) return counts.error();
  std::unordered_map<std::string, CapCount> caps;
  std::int64_t day = utc_day(now());
  for (const auto& c : *counts) {
    auto si = s_map.find(c.app_id);
    if (si != s_map.end() && si->second->max_per_user_per_day > 0) {
      auto& e = caps[c.app_id + '\x1f' + c.user_index + '\x1f' + "*"];
      e.day = day;
      e.count += c.count;
    }
    auto ti = t_map.find(std::pair<std::string, std::string>(c.app_id, c.template_name));
    if (!c.template_name.empty() && ti != t_map.end() && ti->second.max_per_user_per_day > 0) {
      auto& e = caps[c.app_id + '\x1f' + c.user_index + '\x1f' + c.template_name];
      e.day = day;
      e.count += c.count;
    }
  }
  auto pending = records_.pending_messages();
  if (!pending) return pending.error();
  {
    std::lock_guard lock(inbox_mu_);
    inbox_.clear();
    for (auto& p : *pending) inbox_[p.app_id + '\x1f' + p.user_index].push_back(p.seq);  // ascending already
    pending_ = pending->size();
    m_->pending->set(static_cast<double>(pending_));
  }
  {
    std::lock_guard lock(mu_);
    settings_ = std::move(s_map);
    templates_ = std::move(t_map);
    caps_ = std::move(caps);
    idem_pending_.clear();
  }
  loaded_ = true;
  return ok_status();
}

void MessageService::unload() {
  loaded_ = false;
  {
    std::lock_guard lock(inbox_mu_);
    inbox_.clear();
    pending_ = 0;
  }
  std::lock_guard lock(mu_);
  settings_.clear();
  templates_.clear();
  caps_.clear();
}

void MessageService::start() {
  std::lock_guard lock(run_mu_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] {
    std::unique_lock lock(run_mu_);
    while (!stopping_) {
      run_cv_.wait_for(lock, cfg_.poll_interval);
      if (stopping_) break;
      lock.unlock();
      tick(now());
      lock.lock();
    }
  });
}

void MessageService::stop() {
  {
    std::lock_guard lock(run_mu_);
    stopping_ = true;
  }
  run_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::size_t MessageService::in_flight() const {
  std::lock_guard lock(flight_mu_);
  return steps_in_flight_.size() + webhooks_in_flight_.size() + sends_in_flight_;
}

Result<std::string> MessageService::user_index(const std::string& app_id, std::string_view user) const {
  return keys_.blind_index(app_id, "message-user", user);
}

std::shared_ptr<const DeliverySettings> MessageService::settings_of(const std::string& app_id) const {
  static const auto kNone = std::make_shared<const DeliverySettings>();
  std::lock_guard lock(mu_);
  auto it = settings_.find(app_id);
  return it == settings_.end() ? kNone : it->second;
}

bool MessageService::index_add(const std::string& app_id, const std::string& user_index, std::uint64_t seq) {
  std::lock_guard lock(inbox_mu_);
  auto& v = inbox_[app_id + '\x1f' + user_index];
  // Sequence numbers are taken before the write and completions may come in another
  // order; most land at the end.
  v.insert(std::upper_bound(v.begin(), v.end(), seq), seq);
  ++pending_;
  m_->pending->set(static_cast<double>(pending_));
  return true;
}

void MessageService::index_remove(const std::string& app_id, const std::string& user_index, std::uint64_t seq) {
  std::lock_guard lock(inbox_mu_);
  auto it = inbox_.find(app_id + '\x1f' + user_index);
  if (it == inbox_.end()) return;
  auto& v = it->second;
  auto pos = std::lower_bound(v.begin(), v.end(), seq);
  if (pos == v.end() || *pos != seq) return;
  v.erase(pos);
  if (v.empty()) inbox_.erase(it);
  --pending_;
  m_->pending->set(static_cast<double>(pending_));
}

std::vector<std::uint64_t> MessageService::index_page(const std::string& app_id, const std::string& user_index,
                                                      std::uint64_t after_seq, std::size_t limit) const {
  std::lock_guard lock(inbox_mu_);
  auto it = inbox_.find(app_id + '\x1f' + user_index);
  if (it == inbox_.end()) return {};
  const auto& v = it->second;
  auto from = std::upper_bound(v.begin(), v.end(), after_seq);
  auto n = std::min<std::size_t>(limit, static_cast<std::size_t>(v.end() - from));
  return std::vector<std::uint64_t>(from, from + static_cast<std::ptrdiff_t>(n));
}

Result<std::vector<MessageRecord>> MessageService::pending_page(const std::string& app_id,
                                                                const std::string& user_index, std::uint64_t after_seq,
                                                                std::size_t limit, std::uint64_t* next) {
  auto seqs = index_page(app_id, user_index, after_seq, limit);
  *next = seqs.size() == limit ? seqs.back() : 0;
  auto rows = records_.messages_by_seq(seqs);
  if (!rows) return rows.error();
  // Entries the index still holds for messages that expired (and wait for the scheduler)
  // or were acknowledged a moment ago are left out.
  std::int64_t now_ms = now();
  std::erase_if(*rows, [&](const MessageRecord& m) {
    return m.state != MessageState::pending || m.expires_ms <= now_ms || m.app_id != app_id ||
           m.user_index != user_index;
  });
  return rows;
}

Result<MessageService::Opened> MessageService::open_message(const MessageRecord& m) const {
  auto pt = keys_.open(m.app_id, m.sealed, message_ad(m.app_id, m.id));
  if (!pt) return make_error("store_error", "message " + m.id + " does not open");
  boost::system::error_code ec;
  auto v = json::parse(pt->view(), ec);
  if (ec || !v.is_object()) return make_error("store_error", "message " + m.id + " is not JSON");
  const auto& o = v.get_object();
  Opened out;
  auto str = [&](const char* k) {
    return o.contains(k) && o.at(k).is_string() ? std::string(o.at(k).get_string()) : "";
  };
  out.user = str("user");
  if (o.contains("data")) out.data = o.at("data");
  out.priority = str("priority");
  out.email_subject = str("email_subject");
  out.email_text = str("email_text");
  out.sms_text = str("sms_text");
  if (o.contains("channels") && o.at("channels").is_array())
    for (const auto& c : o.at("channels").get_array())
      if (c.is_string()) out.channels.emplace_back(c.get_string());
  if (o.contains("fallback_after_ms") && o.at("fallback_after_ms").is_int64())
    out.fallback_after_ms = o.at("fallback_after_ms").get_int64();
  return out;
}

std::string MessageService::push_frame(const MessageRecord& m, const Opened& o) const {
  json::object inner{{"id", m.id}, {"ts", m.created_ms}, {"priority", o.priority}};
  if (!m.template_name.empty()) inner["template"] = m.template_name;
  inner["data"] = o.data;
  return json::serialize(json::object{{"msg", std::move(inner)}});
}

json::object MessageService::message_view(const MessageRecord& m, const Opened& o) const {
  json::object v{{"id", m.id},
                 {"ts", m.created_ms},
                 {"priority", o.priority},
                 {"template", m.template_name},
                 {"data", o.data},
                 {"cursor", std::to_string(m.seq)}};
  return v;
}

bool MessageService::take_caps(const std::string& app_id, const std::string& user_index,
                               const std::string& template_name, std::uint64_t app_cap, std::uint64_t template_cap) {
  std::int64_t day = utc_day(now());
  std::lock_guard lock(mu_);
  auto entry = [&](const std::string& t) -> CapCount& {
    auto& e = caps_[app_id + '\x1f' + user_index + '\x1f' + t];
    if (e.day != day) e = CapCount{day, 0};
    return e;
  };
  if (caps_.size() >= kMaxCapCounters) {
    // Forget yesterday's counters before refusing to track more.
    std::erase_if(caps_, [day](const auto& kv) { return kv.second.day != day; });
    if (caps_.size() >= kMaxCapCounters) return false;
  }
  if (app_cap > 0 && entry("*").count >= app_cap) return false;
  if (template_cap > 0 && entry(template_name).count >= template_cap) return false;
  if (app_cap > 0) ++entry("*").count;
  if (template_cap > 0) ++entry(template_name).count;
  return true;
}

void MessageService::return_caps(const std::string& app_id, const std::string& user_index,
                                 const std::string& template_name, std::uint64_t app_cap, std::uint64_t template_cap) {
  std::lock_guard lock(mu_);
  auto drop = [&](const std::string& t) {
    auto it = caps_.find(app_id + '\x1f' + user_index + '\x1f' + t);
    if (it != caps_.end() && it->second.count > 0) --it->second.count;
  };
  if (app_cap > 0) drop("*");
  if (template_cap > 0) drop(template_name);
}

void MessageService::publish(const std::string& app_id, const std::string& app_name, const json::object& body,
                             Done<Published> done) {
  (void)app_name;
  using O = Outcome<Published>;
  if (!loaded_ || keys_.sealed()) return done(O::fail("sealed", "the key service is sealed"));
  if (auto st = only_fields(body, {"to_user", "data", "template", "vars", "locale", "text", "subject", "channels",
                                   "fallback_after", "idempotency_key", "ttl", "priority"});
      !st)
    return done(O::fail(st.error().code, st.error().message));
  auto bad = [&](std::string msg) { done(O::fail("invalid_argument", std::move(msg))); };
  const json::value* to = body.if_contains("to_user");
  if (!to || !to->is_string() || !push::valid_user_id(to->get_string()))
    return bad("to_user must be 1 to 128 bytes without ',' or '#'");
  std::string user(to->get_string());
  const json::value* data = body.if_contains("data");
  auto tname = optional_string(body, "template", 64);
  if (!tname) return bad(tname.error().message);
  if ((data != nullptr) == !tname->empty()) return bad("give exactly one of data and template");
  if (data && !json_numbers_finite(*data)) return bad("data holds a number outside the range of a double");
  const json::value* vars = body.if_contains("vars");
  if (vars && !vars->is_object()) return bad("vars must be an object");
  if (vars && tname->empty()) return bad("vars needs a template");
  if (vars)
    for (const auto& kv : vars->get_object())
      if (!kv.value().is_string() && !kv.value().is_number() && !kv.value().is_bool())
        return bad("vars." + std::string(kv.key()) + " must be a string, number or boolean");
  if (vars && !json_numbers_finite(*vars)) return bad("vars holds a number outside the range of a double");
  auto locale = optional_string(body, "locale", 35);
  if (!locale) return bad(locale.error().message);
  if (!locale->empty() && !otp::valid_locale(*locale)) return bad("locale must be a tag such as en or pt-BR");
  auto text = optional_string(body, "text", cfg_.max_data_bytes);
  if (!text) return bad(text.error().message);
  auto subject = optional_string(body, "subject", 998);
  if (!subject) return bad(subject.error().message);
  if (subject->find_first_of("\r\n") != std::string::npos) return bad("subject must be one line");
  auto idem = optional_string(body, "idempotency_key", kMaxIdempotencyKey);
  if (!idem) return bad(idem.error().message);
  if (body.contains("idempotency_key") && idem->empty()) return bad("idempotency_key must not be empty");
  auto priority = optional_string(body, "priority", 16);
  if (!priority) return bad(priority.error().message);
  if (priority->empty()) *priority = "normal";
  if (*priority != "normal" && *priority != "high") return bad("priority is \"normal\" or \"high\"");

  auto settings_ptr = settings_of(app_id);
  const DeliverySettings& settings = *settings_ptr;
  std::vector<std::string> channels = settings.fallback;
  if (const auto* c = body.if_contains("channels")) {
    auto parsed = channels_field(*c, "channels");
    if (!parsed) return bad(parsed.error().message);
    channels = std::move(*parsed);
  }
  std::int64_t fallback_after =
      settings.fallback_after_ms > 0 ? settings.fallback_after_ms : cfg_.fallback_after.count();
  if (body.contains("fallback_after")) {
    auto d = duration_field(body, "fallback_after", 1000, kMaxFallbackAfterMs);
    if (!d) return bad(d.error().message);
    fallback_after = *d;
  }
  std::int64_t ttl = cfg_.default_ttl.count();
  if (body.contains("ttl")) {
    auto d = duration_field(body, "ttl", 1000, cfg_.max_ttl.count());
    if (!d) return bad(d.error().message);
    ttl = *d;
  }
  const bool need_email = std::find(channels.begin(), channels.end(), "email") != channels.end();
  const bool need_sms = std::find(channels.begin(), channels.end(), "sms") != channels.end();

  // The content per channel: rendered from the template now, so that a template that
  // cannot be rendered is refused here and not at delivery.
  Opened content;
  content.priority = *priority;
  content.user = user;
  content.channels = channels;
  content.fallback_after_ms = fallback_after;
  std::uint64_t template_cap = 0;
  if (!tname->empty()) {
    Template t;
    {
      std::lock_guard lock(mu_);
      auto it = templates_.find(std::pair<std::string, std::string>(app_id, *tname));
      if (it == templates_.end()) {
        m_->refused->with({"template_not_found"}).inc();
        return done(O::fail("template_not_found", "this app has no template " + *tname));
      }
      t = it->second;
    }
    template_cap = t.max_per_user_per_day;
    static const json::object kNoVars;
    auto r = render(t, *locale, settings.default_locale, vars ? vars->get_object() : kNoVars, need_email, need_sms);
    if (!r) {
      m_->refused->with({"template_render_failed"}).inc();
      return done(O::fail(r.error().code, r.error().message));
    }
    content.data = std::move(r->inapp);
    content.email_subject = std::move(r->email_subject);
    content.email_text = std::move(r->email_text);
    content.sms_text = std::move(r->sms_text);
  } else {
    content.data = *data;
    if ((need_email || need_sms) && text->empty())
      return bad("text is required when channels holds email or sms and there is no template");
    content.email_subject = subject->empty() ? "New message" : *subject;
    content.email_text = *text;
    content.sms_text = *text;
  }

  json::array ch;
  for (const auto& c : channels) ch.push_back(json::string(c));
  std::string plaintext = json::serialize(json::object{{"user", user},
                                                       {"data", content.data},
                                                       {"priority", content.priority},
                                                       {"channels", std::move(ch)},
                                                       {"fallback_after_ms", fallback_after},
                                                       {"email_subject", need_email ? content.email_subject : ""},
                                                       {"email_text", need_email ? content.email_text : ""},
                                                       {"sms_text", need_sms ? content.sms_text : ""}});
  if (plaintext.size() > cfg_.max_data_bytes + 1024) {
    m_->refused->with({"too_large"}).inc();
    return done(O::fail("message_too_large", "the message is larger than messages.max_data_bytes"));
  }

  auto uidx = user_index(app_id, user);
  if (!uidx) return done(O::fail(uidx.error().code, uidx.error().message));
  MessageRecord m;
  m.seq = next_seq_.fetch_add(1);
  m.id = "msg_" + std::to_string(m.seq) + "_" + crypto::random_hex(6);
  std::string idem_index;
  std::string idem_key;
  if (!idem->empty()) {
    auto ix = keys_.blind_index(app_id, "message-idempotency", *idem);
    if (!ix) return done(O::fail(ix.error().code, ix.error().message));
    idem_index = std::move(*ix);
    idem_key = app_id + '\x1f' + idem_index;
    // The same key in flight or stored answers with the first message; the lock spans
    // the lookup so two publishes with one key cannot both pass.
    std::lock_guard lock(mu_);
    if (auto it = idem_pending_.find(idem_key); it != idem_pending_.end()) {
      m_->duplicates->inc();
      return done(Outcome<Published>{Published{it->second, "pending", true, 0}, {}, 0});
    }
    auto found = records_.message_by_idempotency(app_id, idem_index);
    if (!found) return done(O::fail(found.error().code, found.error().message));
    if (found->has_value()) {
      m_->duplicates->inc();
      return done(Outcome<Published>{Published{(*found)->id, state_name((*found)->state), true, 0}, {}, 0});
    }
    idem_pending_[idem_key] = m.id;  // claimed
  }
  auto release_idem = [this, idem_key] {
    if (idem_key.empty()) return;
    std::lock_guard lock(mu_);
    idem_pending_.erase(idem_key);
  };
  if (!take_caps(app_id, *uidx, *tname, settings.max_per_user_per_day, template_cap)) {
    release_idem();
    m_->refused->with({"cap"}).inc();
    std::int64_t now_ms = now();
    std::int64_t retry = ((utc_day(now_ms) + 1) * 86'400'000 - now_ms + 999) / 1000;
    return done(O::fail("message_cap_exceeded", "this user has had the most messages allowed today", retry));
  }

  {
    std::lock_guard lock(inbox_mu_);
    if (pending_ >= cfg_.max_pending) {
      release_idem();
      return_caps(app_id, *uidx, *tname, settings.max_per_user_per_day, template_cap);
      m_->refused->with({"busy"}).inc();
      return done(O::fail("messages_busy", "the server holds messages.max_pending unacknowledged messages"));
    }
  }
  m.app_id = app_id;
  m.user_index = *uidx;
  m.idem_index = idem_index;
  m.template_name = *tname;
  m.created_ms = now();
  m.expires_ms = m.created_ms + ttl;
  m.due_ms = channels.empty() ? m.expires_ms : std::min(m.created_ms + fallback_after, m.expires_ms);
  auto sealed = keys_.seal(app_id, plaintext, message_ad(app_id, m.id));
  if (!sealed) {
    release_idem();
    return_caps(app_id, *uidx, *tname, settings.max_per_user_per_day, template_cap);
    return done(O::fail(sealed.error().code, sealed.error().message));
  }
  m.sealed = std::move(*sealed);
  std::string frame = push_frame(m, content);
  std::uint64_t seq = m.seq;
  std::string id = m.id;
  std::string tmpl = m.template_name;
  std::string ui = *uidx;
  std::uint64_t app_cap = settings.max_per_user_per_day;
  records_.insert_message(
      std::move(m), [this, seq, id, app_id, user, ui, tmpl, app_cap, template_cap, frame = std::move(frame),
                     release_idem, done = std::move(done)](Status st) mutable {
        release_idem();
        if (!st) {
          return_caps(app_id, ui, tmpl, app_cap, template_cap);
          log::error("message_store_failed", {{"error", st.error().message}});
          return done(O::fail("store_unavailable", "the message could not be stored"));
        }
        index_add(app_id, ui, seq);
        m_->published->inc();
        count_event("accepted");
        count_event("stored");
        std::size_t n = pusher_ ? pusher_(app_id, user, std::move(frame)) : 0;
        if (n > 0) {
          m_->delivered->inc(n);
          count_event("delivered");
          records_.add_message_events(
              {MessageEventRecord{seq, now(), "delivered", "", "", static_cast<std::int64_t>(n)}}, [](Status) {});
        }
        done(Outcome<Published>{Published{id, "pending", false, n}, {}, 0});
      });
}

Result<std::optional<MessageRecord>> MessageService::find(const std::string& app_id, std::string_view message_id) {
  std::uint64_t seq = seq_of(message_id);
  if (seq == 0) return std::optional<MessageRecord>();
  auto m = records_.message(seq);
  if (!m) return m.error();
  if (!m->has_value() || (*m)->id != message_id || (*m)->app_id != app_id) return std::optional<MessageRecord>();
  return m;
}

Result<json::object> MessageService::status(const std::string& app_id, std::string_view message_id) {
  if (!loaded_ || keys_.sealed()) return make_error("sealed", "the key service is sealed");
  auto found = find(app_id, message_id);
  if (!found) return found.error();
  if (!found->has_value()) return make_error("message_not_found", "this app has no message with this id");
  const MessageRecord& m = **found;
  auto o = open_message(m);
  if (!o) return o.error();
  auto events = records_.message_events(m.seq, kTrailMax);
  if (!events) return events.error();
  json::array trail;
  trail.push_back(json::object{{"at_ms", m.created_ms}, {"event", "accepted"}});
  trail.push_back(json::object{{"at_ms", m.created_ms}, {"event", "stored"}});
  for (const auto& e : *events) {
    json::object t{{"at_ms", e.at_ms}, {"event", e.event}};
    if (!e.channel.empty()) t["channel"] = e.channel;
    if (!e.detail.empty()) t["detail"] = e.detail;
    if (e.connections >= 0) t["connections"] = e.connections;
    trail.push_back(std::move(t));
  }
  json::array ch;
  for (const auto& c : o->channels) ch.push_back(json::string(c));
  return json::object{{"id", m.id},
                      {"user", o->user},
                      {"state", state_name(m.state)},
                      {"created_ms", m.created_ms},
                      {"expires_ms", m.expires_ms},
                      {"priority", o->priority},
                      {"template", m.template_name},
                      {"channels", std::move(ch)},
                      {"fallback_after_ms", o->fallback_after_ms},
                      {"data", o->data},
                      {"trail", std::move(trail)}};
}

Result<json::object> MessageService::inbox(const std::string& app_id, std::string_view user, std::string_view after,
                                           std::size_t limit) {
  if (!loaded_ || keys_.sealed()) return make_error("sealed", "the key service is sealed");
  if (!push::valid_user_id(user))
    return make_error("invalid_argument", "the user id must be 1 to 128 bytes without ',' or '#'");
  std::uint64_t after_seq = 0;
  if (!after.empty()) {
    auto [p, ec] = std::from_chars(after.data(), after.data() + after.size(), after_seq);
    if (ec != std::errc{} || p != after.data() + after.size())
      return make_error("invalid_argument", "after must be a cursor from an earlier page");
  }
  if (limit == 0 || limit > 500) return make_error("invalid_argument", "limit must be 1 to 500");
  auto uidx = user_index(app_id, user);
  if (!uidx) return uidx.error();
  std::uint64_t next_seq = 0;
  auto rows = pending_page(app_id, *uidx, after_seq, limit, &next_seq);
  if (!rows) return rows.error();
  json::array list;
  for (const auto& m : *rows) {
    auto o = open_message(m);
    if (!o) return o.error();
    list.push_back(message_view(m, *o));
  }
  json::value next = nullptr;
  if (next_seq != 0) next = json::string(std::to_string(next_seq));
  return json::object{{"messages", std::move(list)}, {"next", std::move(next)}};
}

void MessageService::on_connect(const push::ClientIdentity& who,
                                std::function<void(std::vector<std::string>)> done) {
  done(pending_frames(who));
}

void MessageService::ack(const push::ClientIdentity& who, std::string_view message_id,
                         std::function<void(Status)> done) {
  done(ack_now(who, message_id));
}

void MessageService::page(const push::ClientIdentity& who, std::string_view after, std::size_t limit,
                          std::function<void(Result<std::string>)> done) {
  done(page_now(who, after, limit));
}

std::vector<std::string> MessageService::pending_frames(const push::ClientIdentity& who) {
  std::vector<std::string> frames;
  if (!loaded_ || keys_.sealed() || cfg_.deliver_on_connect == 0) return frames;
  auto uidx = user_index(who.app_id, who.user);
  if (!uidx) return frames;
  std::int64_t now_ms = now();
  std::uint64_t next_seq = 0;
  auto rows = pending_page(who.app_id, *uidx, 0, cfg_.deliver_on_connect, &next_seq);
  if (!rows) {
    log::warn("message_inbox_failed", {{"error", rows.error().message}});
    return frames;
  }
  std::vector<MessageEventRecord> events;
  for (const auto& m : *rows) {
    auto o = open_message(m);
    if (!o) continue;
    frames.push_back(push_frame(m, *o));
    events.push_back(MessageEventRecord{m.seq, now_ms, "delivered", "", "", 1});
  }
  if (!events.empty()) {
    m_->delivered->inc(events.size());
    m_->events->with({"delivered"}).inc(events.size());
    records_.add_message_events(std::move(events), [](Status) {});
  }
  return frames;
}

Status MessageService::ack_now(const push::ClientIdentity& who, std::string_view message_id) {
  if (!loaded_ || keys_.sealed()) return make_error("sealed", "the key service is sealed");
  auto found = find(who.app_id, message_id);
  if (!found) return found.error();
  auto uidx = user_index(who.app_id, who.user);
  if (!uidx) return uidx.error();
  if (!found->has_value() || (*found)->user_index != *uidx)
    return make_error("message_not_found", "you have no message with this id");
  const MessageRecord& m = **found;
  if (m.state != MessageState::pending) return ok_status();
  MessageChange c;
  c.seq = m.seq;
  c.state = MessageState::acked;
  c.due_ms = m.expires_ms + cfg_.retention.count();
  c.events.push_back(MessageEventRecord{m.seq, now(), "acked", "", "", -1});
  // Out of the inbox at once (a page or a connect right after the ack must not show it);
  // the state in the store follows with the next group commit.
  index_remove(m.app_id, m.user_index, m.seq);
  auto applied = std::make_shared<bool>(false);
  records_.change_message(std::move(c), applied,
                          [this, applied, app = m.app_id, ui = m.user_index, seq = m.seq](Status st) {
                            if (!st) {
                              log::warn("message_ack_failed", {{"error", st.error().message}});
                              index_add(app, ui, seq);  // still pending: delivered again on reconnect
                              return;
                            }
                            if (*applied) {
                              m_->acked->inc();
                              count_event("acked");
                            }
                          });
  return ok_status();
}

Result<std::string> MessageService::page_now(const push::ClientIdentity& who, std::string_view after,
                                             std::size_t limit) {
  auto r = inbox(who.app_id, who.user, after, limit);
  if (!r) return r.error();
  return json::serialize(*r);
}

// ---- contacts -------------------------------------------------------------------

void MessageService::set_contacts(const std::string& app_id, std::string_view user, const json::object& body,
                                  Done<json::object> done) {
  using O = Outcome<json::object>;
  if (!loaded_ || keys_.sealed()) return done(O::fail("sealed", "the key service is sealed"));
  if (!push::valid_user_id(user))
    return done(O::fail("invalid_argument", "the user id must be 1 to 128 bytes without ',' or '#'"));
  if (auto st = only_fields(body, {"email", "phone"}); !st) return done(O::fail(st.error().code, st.error().message));
  json::object stored;
  for (const char* k : {"email", "phone"}) {
    const json::value* v = body.if_contains(k);
    if (!v || v->is_null()) {
      stored[k] = nullptr;
      continue;
    }
    if (!v->is_string()) return done(O::fail("invalid_argument", std::string(k) + " must be a string or null"));
    std::string s(v->get_string());
    if (std::string_view(k) == "email" && !otp::valid_email(s))
      return done(O::fail("invalid_argument", "email is not an e-mail address"));
    if (std::string_view(k) == "phone" && !otp::valid_e164(s))
      return done(O::fail("invalid_argument", "phone must be an E.164 number such as +4915112345678"));
    stored[k] = s;
  }
  auto uidx = user_index(app_id, user);
  if (!uidx) return done(O::fail(uidx.error().code, uidx.error().message));
  auto sealed = keys_.seal(app_id, json::serialize(stored), "user_contacts/" + app_id + "/" + *uidx);
  if (!sealed) return done(O::fail(sealed.error().code, sealed.error().message));
  stored["user"] = std::string(user);
  records_.put_contacts(store::ContactRecord{app_id, *uidx, std::move(*sealed), now()},
                        [stored = std::move(stored), done = std::move(done)](Status st) mutable {
                          if (!st) return done(O::fail("store_unavailable", "the contacts could not be stored"));
                          done(O{std::move(stored), {}, 0});
                        });
}

Result<json::object> MessageService::contacts(const std::string& app_id, std::string_view user) {
  if (!loaded_ || keys_.sealed()) return make_error("sealed", "the key service is sealed");
  if (!push::valid_user_id(user))
    return make_error("invalid_argument", "the user id must be 1 to 128 bytes without ',' or '#'");
  auto uidx = user_index(app_id, user);
  if (!uidx) return uidx.error();
  auto r = open_contacts(app_id, *uidx);
  if (!r) return r.error();
  if (!r->has_value()) return make_error("contacts_not_found", "no contacts are set for this user");
  auto o = std::move(**r);
  o["user"] = std::string(user);
  return o;
}

Result<std::optional<json::object>> MessageService::open_contacts(const std::string& app_id,
                                                                  const std::string& user_index) const {
  auto r = records_.contacts(app_id, user_index);
  if (!r) return r.error();
  if (!r->has_value()) return std::optional<json::object>();
  auto pt = keys_.open(app_id, (*r)->sealed, "user_contacts/" + app_id + "/" + user_index);
  if (!pt) return make_error("contacts_unreadable", "the contacts do not open");
  boost::system::error_code ec;
  auto v = json::parse(pt->view(), ec);
  if (ec || !v.is_object()) return make_error("contacts_unreadable", "the stored contacts are not JSON");
  return std::optional<json::object>(std::move(v.get_object()));
}

void MessageService::delete_contacts(const std::string& app_id, std::string_view user, Done<bool> done) {
  using O = Outcome<bool>;
  if (!loaded_ || keys_.sealed()) return done(O::fail("sealed", "the key service is sealed"));
  if (!push::valid_user_id(user))
    return done(O::fail("invalid_argument", "the user id must be 1 to 128 bytes without ',' or '#'"));
  auto uidx = user_index(app_id, user);
  if (!uidx) return done(O::fail(uidx.error().code, uidx.error().message));
  records_.delete_contacts(app_id, *uidx, [done = std::move(done)](Status st) {
    if (!st) return done(O::fail("store_unavailable", "the contacts could not be deleted"));
    done(O{true, {}, 0});
  });
}

// ---- settings and templates ------------------------------------------------------

json::object MessageService::settings_json(const std::string& app_id) const {
  return settings_view(*settings_of(app_id));
}

void MessageService::update_settings(const std::string& app_id, const json::object& patch, Done<json::object> done) {
  using O = Outcome<json::object>;
  if (!loaded_ || keys_.sealed()) return done(O::fail("sealed", "the key service is sealed"));
  if (auto st = only_fields(patch, {"webhook_url", "allow_private_webhooks", "fallback", "fallback_after",
                                    "max_per_user_per_day", "default_locale", "rotate_webhook_secret"});
      !st)
    return done(O::fail(st.error().code, st.error().message));
  DeliverySettings s = *settings_of(app_id);
  bool new_secret = false;
  if (const auto* v = patch.if_contains("allow_private_webhooks")) {
    if (!v->is_bool()) return done(O::fail("invalid_argument", "allow_private_webhooks must be a boolean"));
    s.allow_private_webhooks = v->get_bool();
  }
  if (const auto* v = patch.if_contains("webhook_url")) {
    if (!v->is_string()) return done(O::fail("invalid_argument", "webhook_url must be a string (\"\" removes it)"));
    s.webhook_url = std::string(v->get_string());
  }
  if (auto st = check_webhook_url(s.webhook_url, s.allow_private_webhooks); !st)
    return done(O::fail(st.error().code, st.error().message));
  if (const auto* v = patch.if_contains("fallback")) {
    auto c = channels_field(*v, "fallback");
    if (!c) return done(O::fail(c.error().code, c.error().message));
    s.fallback = std::move(*c);
  }
  if (const auto* v = patch.if_contains("fallback_after")) {
    if (v->is_null()) {
      s.fallback_after_ms = 0;
    } else {
      auto d = duration_field(patch, "fallback_after", 1000, kMaxFallbackAfterMs);
      if (!d) return done(O::fail(d.error().code, d.error().message));
      s.fallback_after_ms = *d;
    }
  }
  if (const auto* v = patch.if_contains("max_per_user_per_day")) {
    if (!v->is_uint64() && !(v->is_int64() && v->get_int64() >= 0))
      return done(O::fail("invalid_argument", "max_per_user_per_day must be a whole number (0: no cap)"));
    s.max_per_user_per_day = v->to_number<std::uint64_t>();
  }
  if (const auto* v = patch.if_contains("default_locale")) {
    if (!v->is_string() || !otp::valid_locale(v->get_string()))
      return done(O::fail("invalid_argument", "default_locale must be a tag such as en or pt-BR"));
    s.default_locale = std::string(v->get_string());
  }
  if (const auto* v = patch.if_contains("rotate_webhook_secret")) {
    if (!v->is_bool()) return done(O::fail("invalid_argument", "rotate_webhook_secret must be a boolean"));
    if (v->get_bool()) {
      s.webhook_secret = delivery::make_webhook_secret();
      new_secret = true;
    }
  }
  if (!s.webhook_url.empty() && s.webhook_secret.empty()) {
    s.webhook_secret = delivery::make_webhook_secret();
    new_secret = true;
  }
  std::string secret = new_secret ? s.webhook_secret : std::string();
  write_settings(app_id, std::move(s), [secret, done = std::move(done)](Outcome<json::object> o) mutable {
    if (o.ok() && !secret.empty()) (*o.value)["webhook_secret"] = secret;
    done(std::move(o));
  });
}

void MessageService::write_settings(const std::string& app_id, DeliverySettings s, Done<json::object> done) {
  using O = Outcome<json::object>;
  if (auto st = keys_.ensure_app_keys(app_id); !st) return done(O::fail(st.error().code, st.error().message));
  auto sealed = keys_.seal(app_id, settings_plaintext(s), "message_settings/" + app_id);
  if (!sealed) return done(O::fail(sealed.error().code, sealed.error().message));
  records_.put_message_settings(
      store::MessageSettingsRecord{app_id, std::move(*sealed)},
      [this, app_id, s = std::move(s), done = std::move(done)](Status st) mutable {
        if (!st) return done(O::fail("store_unavailable", "the delivery settings could not be stored"));
        json::object view = settings_view(s);
        {
          std::lock_guard lock(mu_);
          settings_[app_id] = std::make_shared<const DeliverySettings>(std::move(s));
        }
        done(O{std::move(view), {}, 0});
      });
}

void MessageService::put_template(const std::string& app_id, std::string_view name, const json::object& body,
                                  Done<json::object> done) {
  using O = Outcome<json::object>;
  if (!loaded_ || keys_.sealed()) return done(O::fail("sealed", "the key service is sealed"));
  auto t = Template::parse(name, body);
  if (!t) return done(O::fail(t.error().code, t.error().message));
  std::string text = json::serialize(body);
  if (text.size() > kMaxTemplateBytes) return done(O::fail("invalid_argument", "a template is at most 64 KiB"));
  {
    std::lock_guard lock(mu_);
    std::size_t n = 0;
    for (auto it = templates_.lower_bound(std::pair<std::string, std::string>(app_id, ""));
         it != templates_.end() && it->first.first == app_id; ++it)
      ++n;
    if (n >= kMaxTemplatesPerApp && !templates_.count(std::pair<std::string, std::string>(app_id, std::string(name))))
      return done(O::fail("invalid_argument", "an app has at most 1000 templates"));
  }
  records_.put_message_template(store::MessageTemplateRecord{app_id, std::string(name), std::move(text)},
                                [this, app_id, t = std::move(*t), done = std::move(done)](Status st) mutable {
                                  if (!st)
                                    return done(O::fail("store_unavailable", "the template could not be stored"));
                                  json::object view = t.to_json();
                                  {
                                    std::lock_guard lock(mu_);
                                    templates_[{app_id, t.name}] = std::move(t);
                                  }
                                  done(O{std::move(view), {}, 0});
                                });
}

Result<json::object> MessageService::template_json(const std::string& app_id, std::string_view name) const {
  std::lock_guard lock(mu_);
  auto it = templates_.find(std::pair<std::string, std::string>(app_id, std::string(name)));
  if (it == templates_.end()) return make_error("template_not_found", "this app has no template " + std::string(name));
  return it->second.to_json();
}

json::object MessageService::list_templates(const std::string& app_id) const {
  std::lock_guard lock(mu_);
  json::array names;
  for (auto it = templates_.lower_bound(std::pair<std::string, std::string>(app_id, ""));
       it != templates_.end() && it->first.first == app_id; ++it)
    names.push_back(json::string(it->first.second));
  return json::object{{"templates", std::move(names)}};
}

void MessageService::delete_template(const std::string& app_id, std::string_view name, Done<bool> done) {
  using O = Outcome<bool>;
  {
    std::lock_guard lock(mu_);
    if (!templates_.count(std::pair<std::string, std::string>(app_id, std::string(name))))
      return done(O::fail("template_not_found", "this app has no template " + std::string(name)));
  }
  records_.delete_message_template(app_id, std::string(name),
                                   [this, app_id, n = std::string(name), done = std::move(done)](Status st) {
                                     if (!st)
                                       return done(O::fail("store_unavailable", "the template could not be deleted"));
                                     {
                                       std::lock_guard lock(mu_);
                                       templates_.erase(std::pair<std::string, std::string>(app_id, n));
                                     }
                                     done(O{true, {}, 0});
                                   });
}

// ---- dead letters ----------------------------------------------------------------

Result<json::object> MessageService::dead_letters(const std::string& app_id, std::size_t limit) {
  if (limit == 0 || limit > 1000) return make_error("invalid_argument", "limit must be 1 to 1000");
  auto jobs = records_.dead_webhook_jobs(app_id, limit);
  if (!jobs) return jobs.error();
  json::array out;
  for (const auto& j : *jobs) {
    auto m = records_.message(j.seq);
    if (!m) return m.error();
    if (!m->has_value()) continue;
    out.push_back(json::object{{"message_id", (*m)->id},
                               {"channel", "webhook"},
                               {"attempts", j.attempts},
                               {"last_error", j.last_error},
                               {"dead_at_ms", j.updated_ms}});
  }
  return json::object{{"dead_letters", std::move(out)}};
}

void MessageService::replay_dead_letter(const std::string& app_id, std::string_view message_id,
                                        Done<json::object> done) {
  using O = Outcome<json::object>;
  auto found = find(app_id, message_id);
  if (!found) return done(O::fail(found.error().code, found.error().message));
  if (!found->has_value()) return done(O::fail("dead_letter_not_found", "no dead letter for this message"));
  auto job = records_.webhook_job((*found)->seq);
  if (!job) return done(O::fail(job.error().code, job.error().message));
  if (!job->has_value() || (*job)->state != WebhookJobState::dead)
    return done(O::fail("dead_letter_not_found", "no dead letter for this message"));
  WebhookJobRecord j = **job;
  j.state = WebhookJobState::pending;
  j.attempts = 0;
  j.due_ms = now();
  j.updated_ms = j.due_ms;
  j.last_error.clear();
  records_.put_webhook_job(std::move(j), {MessageEventRecord{(*found)->seq, now(), "replayed", "webhook", "", -1}},
                           [this, id = std::string(message_id), done = std::move(done)](Status st) {
                             if (!st) return done(O::fail("store_unavailable", "the replay could not be stored"));
                             count_event("replayed");
                             done(O{json::object{{"message_id", id}, {"state", "pending"}}, {}, 0});
                           });
}

// ---- the scheduler ----------------------------------------------------------------

void MessageService::finish(std::uint64_t seq, bool webhook) {
  std::lock_guard lock(flight_mu_);
  (webhook ? webhooks_in_flight_ : steps_in_flight_).erase(seq);
}

void MessageService::tick(std::int64_t now_ms) {
  if (!loaded_ || keys_.sealed()) return;
  auto due = records_.due_messages(now_ms, kDueBatch);
  if (!due) {
    log::warn("message_schedule_failed", {{"error", due.error().message}});
    return;
  }
  bool purge = false;
  for (const auto& m : *due) {
    if (m.state != MessageState::pending) {
      purge = true;
      continue;
    }
    {
      std::lock_guard lock(flight_mu_);
      if (!steps_in_flight_.insert(m.seq).second) continue;
    }
    step_message(m, now_ms);
  }
  if (purge)
    records_.purge_messages(now_ms, kPurgeBatch, [](Status st) {
      if (!st) log::warn("message_purge_failed", {{"error", st.error().message}});
    });

  auto jobs = records_.due_webhook_jobs(now_ms, kDueBatch);
  if (!jobs) {
    log::warn("message_schedule_failed", {{"error", jobs.error().message}});
    return;
  }
  for (const auto& j : *jobs) {
    {
      std::lock_guard lock(flight_mu_);
      if (!webhooks_in_flight_.insert(j.seq).second) continue;
    }
    auto m = records_.message(j.seq);
    if (!m || !m->has_value() || (*m)->state != MessageState::pending || (*m)->expires_ms <= now_ms) {
      // Acknowledged or expired meanwhile (or gone, or its ttl ended and the expiry is
      // being written in this very pass): no more attempts.
      WebhookJobRecord c = j;
      c.state = WebhookJobState::cancelled;
      c.updated_ms = now_ms;
      records_.put_webhook_job(std::move(c), {}, [this, seq = j.seq](Status) { finish(seq, true); });
      continue;
    }
    attempt_webhook(**m, j.attempts, now_ms);
  }
}

void MessageService::step_message(const MessageRecord& m, std::int64_t now_ms) {
  const std::uint64_t seq = m.seq;
  auto apply = [this, seq](MessageChange c, std::function<void()> then = {}) {
    auto applied = std::make_shared<bool>(false);
    records_.change_message(std::move(c), applied, [this, seq, applied, then = std::move(then)](Status st) {
      finish(seq, false);
      if (!st) {
        log::warn("message_step_failed", {{"error", st.error().message}});
        return;
      }
      if (*applied && then) then();
    });
  };
  if (now_ms >= m.expires_ms) {
    MessageChange c;
    c.seq = seq;
    c.state = MessageState::expired;
    c.due_ms = m.expires_ms + cfg_.retention.count();
    c.events.push_back(MessageEventRecord{seq, now_ms, "expired", "", "", -1});
    return apply(std::move(c), [this, app = m.app_id, ui = m.user_index, seq] {
      index_remove(app, ui, seq);
      m_->expired->inc();
      count_event("expired");
    });
  }
  auto o = open_message(m);
  if (!o) {
    log::error("message_open_failed", {{"error", o.error().message}});
    finish(seq, false);
    return;
  }
  if (m.step >= static_cast<int>(o->channels.size())) {
    MessageChange c;
    c.seq = seq;
    c.due_ms = m.expires_ms;
    return apply(std::move(c));
  }
  const std::string channel = o->channels[static_cast<std::size_t>(m.step)];
  const int next = m.step + 1;
  const std::int64_t t = std::max<std::int64_t>(o->fallback_after_ms, 1000);
  std::int64_t next_due = next < static_cast<int>(o->channels.size()) ? m.created_ms + (next + 1) * t : m.expires_ms;
  MessageChange c;
  c.seq = seq;
  c.step = next;
  c.due_ms = std::min(std::max(next_due, now_ms + 1), m.expires_ms);
  auto fail = [&](std::string why) {
    c.events.push_back(MessageEventRecord{seq, now_ms, "failed", channel, why, -1});
    apply(std::move(c), [this, channel] {
      m_->fallback->with({channel, "failed"}).inc();
      count_event("failed");
    });
  };

  if (channel == "webhook") {
    if (settings_of(m.app_id)->webhook_url.empty()) return fail("no_webhook_url");
    c.events.push_back(MessageEventRecord{seq, now_ms, "fallback_started", channel, "", -1});
    c.job = WebhookJobRecord{seq, m.app_id, 0, now_ms, WebhookJobState::pending, "", now_ms};
    return apply(std::move(c), [this] { count_event("fallback_started"); });
  }

  // E-mail or SMS: to the user's contact, at most once (the step is durable before the send).
  auto contact = open_contacts(m.app_id, m.user_index);
  if (!contact && contact.error().code != "contacts_unreadable") {
    log::warn("message_contacts_failed", {{"error", contact.error().message}});
    finish(seq, false);  // the store did not answer: the step is tried again next pass
    return;
  }
  std::string to;
  const char* key = channel == "email" ? "email" : "phone";
  if (contact && contact->has_value() && (*contact)->contains(key) && (*contact)->at(key).is_string())
    to = std::string((*contact)->at(key).get_string());
  if (to.empty()) return fail("no_contact");
  delivery::Sender* sender = senders_ ? senders_->for_channel(channel) : nullptr;
  if (!sender) return fail("no_provider");
  delivery::OutboundMessage out;
  out.channel = channel;
  out.to = std::move(to);
  out.subject = channel == "email" ? o->email_subject : "";
  out.text = channel == "email" ? o->email_text : o->sms_text;
  out.reference = m.id;
  c.events.push_back(MessageEventRecord{seq, now_ms, "fallback_started", channel, "", -1});
  {
    std::lock_guard lock(flight_mu_);
    ++sends_in_flight_;
  }
  auto send_done = [this, seq, channel](Status st) {
    std::vector<MessageEventRecord> ev;
    if (st) {
      ev.push_back(MessageEventRecord{seq, now(), "fallback_sent", channel, "", -1});
      m_->fallback->with({channel, "sent"}).inc();
      count_event("fallback_sent");
    } else {
      ev.push_back(MessageEventRecord{seq, now(), "failed", channel, st.error().code, -1});
      m_->fallback->with({channel, "failed"}).inc();
      count_event("failed");
    }
    records_.add_message_events(std::move(ev), [this](Status) {
      std::lock_guard lock(flight_mu_);
      --sends_in_flight_;
    });
  };
  auto applied = std::make_shared<bool>(false);
  records_.change_message(std::move(c), applied,
                          [this, seq, applied, sender, out = std::move(out), send_done](Status st) mutable {
                            finish(seq, false);
                            if (!st || !*applied) {
                              std::lock_guard lock(flight_mu_);
                              --sends_in_flight_;
                              return;
                            }
                            count_event("fallback_started");
                            sender->send(std::move(out), send_done);
                          });
}

void MessageService::attempt_webhook(const MessageRecord& m, int attempts, std::int64_t now_ms) {
  const std::uint64_t seq = m.seq;
  auto sp = settings_of(m.app_id);
  const DeliverySettings& s = *sp;
  auto settle = [this, seq, app = m.app_id, attempts](delivery::WebhookOutcome out) {
    const std::int64_t t = now();
    WebhookJobRecord j{seq, app, attempts + 1, t, WebhookJobState::pending, out.error, t};
    std::vector<MessageEventRecord> ev;
    if (out.delivered) {
      j.state = WebhookJobState::delivered;
      ev.push_back(MessageEventRecord{seq, t, "fallback_sent", "webhook", "", -1});
      m_->fallback->with({"webhook", "sent"}).inc();
      count_event("fallback_sent");
    } else if (out.retryable && j.attempts < static_cast<int>(cfg_.webhook_max_attempts)) {
      // Exponential backoff with jitter: base * 2^(n-1), capped, then 50-100% of it.
      std::int64_t base = cfg_.webhook_backoff.count();
      std::int64_t cap = cfg_.webhook_backoff_max.count();
      std::int64_t wait = base;
      for (int i = 1; i < j.attempts && wait < cap; ++i) wait *= 2;
      wait = std::min(wait, cap);
      thread_local std::mt19937_64 rng(std::random_device{}());
      wait = wait / 2 + static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(wait / 2 + 1));
      if (out.retry_after_s) wait = std::min(std::max(wait, *out.retry_after_s * 1000), cap);
      j.due_ms = t + wait;
      ev.push_back(MessageEventRecord{seq, t, "retry_scheduled", "webhook", out.error, -1});
      m_->fallback->with({"webhook", "retry"}).inc();
      count_event("retry_scheduled");
    } else {
      j.state = WebhookJobState::dead;
      ev.push_back(MessageEventRecord{seq, t, "dead_lettered", "webhook", out.error, -1});
      m_->fallback->with({"webhook", "dead"}).inc();
      m_->dead->inc();
      count_event("dead_lettered");
    }
    records_.put_webhook_job(std::move(j), std::move(ev), [this, seq](Status st) {
      if (!st) log::warn("message_webhook_write_failed", {{"error", st.error().message}});
      finish(seq, true);
    });
  };
  if (s.webhook_url.empty() || s.webhook_secret.empty() || !webhooks_) {
    delivery::WebhookOutcome out;
    out.error = "no_webhook_url";
    return settle(out);
  }
  auto o = open_message(m);
  if (!o) {
    log::error("message_open_failed", {{"error", o.error().message}});
    finish(seq, true);
    return;
  }
  auto key = delivery::decode_webhook_secret(s.webhook_secret);
  if (!key) {
    delivery::WebhookOutcome out;
    out.error = "bad webhook secret";
    return settle(out);
  }
  delivery::WebhookRequest req;
  req.url = s.webhook_url;
  req.secret = std::move(*key);
  req.id = m.id;
  req.timestamp_s = now_ms / 1000;
  req.body = json::serialize(json::object{{"type", "message.fallback"},
                                          {"timestamp", now_ms},
                                          {"data", json::object{{"id", m.id},
                                                                {"user", o->user},
                                                                {"ts", m.created_ms},
                                                                {"priority", o->priority},
                                                                {"template", m.template_name},
                                                                {"data", o->data}}}});
  req.allow_private = s.allow_private_webhooks;
  req.ca_file = cfg_.webhook_ca_file;
  req.timeout_ms = static_cast<long>(cfg_.webhook_timeout.count());
  webhooks_(std::move(req), std::move(settle));
}

}  // namespace herald::messages
