// The verification record's JSON codec; the field names are the stored format, so
// changing one makes existing records unreadable.
#include "otp/verification.h"

#include <boost/json.hpp>

#include <optional>

namespace herald::otp {
namespace {

namespace json = boost::json;

std::string_view state_name(State s) {
  switch (s) {
    case State::Pending:
      return "pending";
    case State::Verified:
      return "verified";
    case State::Redeemed:
      return "redeemed";
    case State::Dead:
      return "dead";
  }
  return "dead";
}

std::optional<State> state_of(std::string_view s) {
  if (s == "pending") return State::Pending;
  if (s == "verified") return State::Verified;
  if (s == "redeemed") return State::Redeemed;
  if (s == "dead") return State::Dead;
  return std::nullopt;
}

}  // namespace

std::string Verification::to_json() const {
  json::object o{{"id", id},
                 {"app", app_id},
                 {"to", to},
                 {"channel", channel},
                 {"device_id", device_id},
                 {"purpose", purpose},
                 {"recipient_index", recipient_index},
                 {"code_hash", code_hash},
                 {"created_ms", created_ms},
                 {"expires_ms", expires_ms},
                 {"token_expires_ms", token_expires_ms},
                 {"attempts", attempts},
                 {"state", state_name(state)}};
  return json::serialize(o);
}

std::shared_ptr<Verification> Verification::from_json(std::string_view text) {
  json::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) return nullptr;
  const auto& o = v.get_object();
  auto out = std::make_shared<Verification>();
  try {
    out->id = std::string(o.at("id").as_string());
    out->app_id = std::string(o.at("app").as_string());
    out->to = std::string(o.at("to").as_string());
    out->channel = std::string(o.at("channel").as_string());
    out->device_id = std::string(o.at("device_id").as_string());
    out->purpose = std::string(o.at("purpose").as_string());
    out->recipient_index = std::string(o.at("recipient_index").as_string());
    out->code_hash = std::string(o.at("code_hash").as_string());
    out->created_ms = o.at("created_ms").to_number<std::int64_t>();
    out->expires_ms = o.at("expires_ms").to_number<std::int64_t>();
    out->token_expires_ms = o.at("token_expires_ms").to_number<std::int64_t>();
    out->attempts = o.at("attempts").to_number<std::uint32_t>();
    auto st = state_of(std::string_view(o.at("state").as_string()));
    if (!st) return nullptr;
    out->state = *st;
  } catch (const std::exception&) {
    return nullptr;
  }
  return out;
}

}  // namespace herald::otp
