// Fuzzes the WebSocket client protocol: text frames (NUL-separated in the input, one command
// per line within a frame) through Client::on_text, with the unit tests' fake transport and
// a manual executor. Every line sent back is a JSON object, closes use documented codes, and
// nothing is answered once the connection is closing.
#include <boost/json.hpp>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "apps/memory_directory.h"
#include "auth/jwt.h"
#include "core/clock.h"
#include "core/metrics.h"
#include "fakes.h"
#include "fuzz_target.h"
#include "push/client.h"

namespace {

using namespace herald;
using push::testing::FakeTransport;
using push::testing::ManualExecutor;

constexpr std::string_view kSecret = "fuzz-client-secret-0123456789abcdef";

// A token for user "1" that stays valid: "$T" in the input stands for it, so that connect,
// refresh and what needs a connection are reached without the fuzzer forging HMACs.
const std::string& user_token() {
  static const std::string t =
      auth::sign_jwt_hs256(R"({"sub":"1","exp":4102444800,"info":{"name":"fuzz"}})", crypto::SecretBytes(kSecret));
  return t;
}
// A subscription token for "secret:room" ("$S").
const std::string& channel_token() {
  static const std::string t =
      auth::sign_jwt_hs256(R"({"sub":"1","exp":4102444800,"channel":"secret:room"})", crypto::SecretBytes(kSecret));
  return t;
}

const apps::MemoryAppDirectory& directory() {
  // Built once and never destroyed: the directory holds a mutex, and targets live for the run.
  static const apps::MemoryAppDirectory* d = [] {
    auto* d = new apps::MemoryAppDirectory;
    apps::App app;
    app.id = "app-1";
    app.key = "key-1";
    app.name = "fuzz";
    auth::JwtKey k;
    k.alg = auth::JwtAlg::HS256;
    k.secret = crypto::SecretBytes(kSecret);
    app.client_keys.push_back(std::move(k));
    d->put(app);
    return d;
  }();
  return *d;
}

Config make_config() {
  Config cfg;
  cfg.push.max_token_lifetime = Millis(0);  // the fixed tokens above never age out
  cfg.namespaces["default"].history_size = 10;
  cfg.namespaces["chat"].publish = "subscribers";
  cfg.namespaces["chat"].presence = true;
  cfg.namespaces["open"].publish = "authenticated";
  cfg.namespaces["vip"].subscribe = "claims";
  cfg.namespaces["secret"].subscribe = "token";
  return cfg;
}

std::string expand(std::string_view frame) {
  std::string out;
  for (std::size_t i = 0; i < frame.size(); ++i) {
    if (frame[i] == '$' && i + 1 < frame.size() && (frame[i + 1] == 'T' || frame[i + 1] == 'S')) {
      out += frame[i + 1] == 'T' ? user_token() : channel_token();
      ++i;
    } else {
      out.push_back(frame[i]);
    }
  }
  return out;
}

bool documented_close(int code) {
  return code == 0 || code == push::close_code::kNormal || code == push::close_code::kShutdown ||
         (code >= push::close_code::kBadFrame && code <= push::close_code::kDisconnectedByServer) ||
         (code >= push::close_code::kSlowConsumer && code <= push::close_code::kSealed);
}

}  // namespace

HERALD_FUZZ_TARGET(client) {
  static const Config cfg = make_config();
  std::string_view input(reinterpret_cast<const char*>(data), size);
  ManualExecutor ex{2};
  metrics::Registry reg;
  push::Hub hub{cfg, ex, reg};
  push::ProtocolMetrics pm{reg};
  push::ClientContext ctx{hub, directory(), cfg, pm, nullptr, "fuzz"};
  FakeTransport t;
  {
    push::Client c(ctx, t, 0);
    std::size_t start = 0;
    while (start <= input.size()) {
      auto nul = input.find('\0', start);
      std::string frame = expand(input.substr(start, nul == std::string_view::npos ? input.npos : nul - start));
      std::size_t sent_before = t.sent.size();
      bool was_closing = c.closing();
      c.on_text(frame);
      ex.run_all();
      if (was_closing) FUZZ_CHECK(t.sent.size() == sent_before);
      if (nul == std::string_view::npos) break;
      start = nul + 1;
    }
    c.on_closed();
    ex.run_all();
  }
  FUZZ_CHECK(documented_close(t.close_code));
  for (const auto& line : t.sent) {
    boost::json::error_code ec;
    auto v = boost::json::parse(line, ec);
    FUZZ_CHECK(!ec && v.is_object());
  }
  return 0;
}
