// Fuzzes signed-request authentication: the input is a request ("METHOD target" line, header
// lines, blank line, body) that ServerAuth checks as the server API does. A first byte '!'
// signs it correctly (v2, or v1 for the opted-in app) so the checks after the signature run.
// Invariants: canonical forms are fixed points, what a route reads from an accepted target is
// what the signature covered, and an accepted request is refused when replayed.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "api/http.h"
#include "api/json_body.h"
#include "api/server_auth.h"
#include "apps/memory_directory.h"
#include "auth/rate_limiter.h"
#include "auth/replay_guard.h"
#include "auth/signed_request.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/metrics.h"
#include "fuzz_target.h"

namespace {

using namespace herald;

constexpr std::int64_t kNowMs = 1'795'463'116'250;
constexpr std::string_view kSecretV2 = "as_fuzz_v2_secret";
constexpr std::string_view kSecretV1 = "as_fuzz_v1_secret";

const apps::MemoryAppDirectory& directory() {
  static const apps::MemoryAppDirectory* d = [] {
    auto* d = new apps::MemoryAppDirectory;
    for (auto [id, key, secret] : {std::tuple{"app_2", "hk_2", kSecretV2}, std::tuple{"app_v1", "hk_v1", kSecretV1}}) {
      apps::App a;
      a.id = id;
      a.key = key;
      a.name = id;
      a.scopes = apps::kScopePublish | apps::kScopeOtp;
      a.rate_limit = 100;
      apps::AppSecret s;
      s.id = "s1";
      s.secret = crypto::SecretBytes(secret);
      a.secrets.push_back(std::move(s));
      d->put(std::move(a));
    }
    return d;
  }();
  return *d;
}

Config make_config() {
  Config cfg;
  cfg.server.deployment_id = "fuzz-deploy";
  cfg.api.signature_v1_apps = "app_v1";
  return cfg;
}

api::Request parse_request(std::string_view in) {
  api::Request r;
  auto line = [&in] {
    auto nl = in.find('\n');
    std::string_view l = in.substr(0, nl);
    in = nl == std::string_view::npos ? std::string_view() : in.substr(nl + 1);
    return l;
  };
  std::string_view first = line();
  auto sp = first.find(' ');
  r.method = std::string(first.substr(0, sp));
  r.target = sp == std::string_view::npos ? std::string("/") : std::string(first.substr(sp + 1));
  auto q = r.target.find('?');
  r.path = r.target.substr(0, q);
  if (q != std::string::npos) r.query = r.target.substr(q + 1);
  for (std::string_view l = line(); !l.empty(); l = line()) {
    auto colon = l.find(':');
    std::string_view value = colon == std::string_view::npos ? std::string_view() : l.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    r.headers.emplace_back(std::string(l.substr(0, colon)), std::string(value));
  }
  r.body = std::string(in);
  r.remote_address = "127.0.0.1:5000";
  return r;
}

void set_header(api::Request& r, std::string_view name, std::string value) {
  for (auto& [k, v] : r.headers)
    if (k == name) return void(v = std::move(value));
  r.headers.emplace_back(std::string(name), std::move(value));
}

// Signs `r` as a client would (a valid timestamp and nonce when the input gave none).
void sign(api::Request& r, const Config& cfg) {
  std::string key(r.header("X-Herald-Key"));
  if (key != "hk_v1") key = "hk_2";
  set_header(r, "X-Herald-Key", key);
  if (r.header("X-Herald-Timestamp").empty()) set_header(r, "X-Herald-Timestamp", std::to_string(kNowMs / 1000));
  if (r.header("X-Herald-Nonce").empty()) set_header(r, "X-Herald-Nonce", "fuzz-nonce-0123456789abcdef");
  const bool v1 = key == "hk_v1";
  if (!v1) set_header(r, "X-Herald-Signature-Version", "2");
  auth::RequestToSign s{v1 ? auth::SigningVersion::kV1 : auth::SigningVersion::kV2,
                        cfg.server.deployment_id,
                        r.method,
                        r.path,
                        r.query,
                        r.body,
                        r.header("X-Herald-Timestamp"),
                        r.header("X-Herald-Nonce"),
                        r.header("X-Herald-Key")};
  set_header(r, "X-Herald-Signature", auth::sign_request(s, v1 ? kSecretV1 : kSecretV2));
}

// Names of the query's parameters as sent.
std::vector<std::string_view> names_of(std::string_view query) {
  std::vector<std::string_view> names;
  std::size_t start = 0;
  while (start < query.size()) {
    auto amp = query.find('&', start);
    auto p = query.substr(start, amp == std::string_view::npos ? query.npos : amp - start);
    if (!p.empty()) names.push_back(p.substr(0, p.find('=')));
    if (amp == std::string_view::npos) break;
    start = amp + 1;
  }
  return names;
}

void check_canonical_forms(const api::Request& r) {
  std::string path = auth::canonical_path(r.path);
  std::string query = auth::canonical_query(r.query);
  FUZZ_CHECK(auth::canonical_path(path) == path);
  FUZZ_CHECK(auth::canonical_query(query) == query);
  FUZZ_CHECK(auth::well_formed_escapes(path) && auth::well_formed_escapes(query));
  // The canonical string has a fixed number of lines: nothing the client sends adds one.
  for (auto version : {auth::SigningVersion::kV1, auth::SigningVersion::kV2}) {
    auth::RequestToSign s{version, "d", r.method, r.path, r.query, r.body, "1", "n", "k"};
    std::string c = auth::canonical_request(s);
    std::size_t lines = static_cast<std::size_t>(std::count(c.begin(), c.end(), '\n'));
    auth::RequestToSign plain{version, "d", "GET", "/", "", "", "1", "n", "k"};
    std::string p = auth::canonical_request(plain);
    if (r.method.find('\n') == std::string::npos)
      FUZZ_CHECK(lines == static_cast<std::size_t>(std::count(p.begin(), p.end(), '\n')));
  }
}

// What a route reads from an accepted target is what the signature covered: the decoded path
// and each parameter read by name agree with the canonical forms.
void check_reads_match_signature(const api::Request& r) {
  auto decoded = api::percent_decode(r.path);
  FUZZ_CHECK(decoded.has_value());
  FUZZ_CHECK(api::percent_decode(auth::canonical_path(r.path)) == decoded);
  std::string canonical = auth::canonical_query(r.query);
  for (auto name : names_of(r.query)) {
    if (name.empty()) continue;
    auto sent = api::query_param(r.query, name);
    FUZZ_CHECK(sent.has_value());
    // The canonical query spells the name encoded; the route reads the decoded name.
    auto again = api::query_param(canonical, name);
    if (name.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~") ==
        std::string_view::npos)
      FUZZ_CHECK(again == sent);
  }
}

}  // namespace

HERALD_FUZZ_TARGET(signing) {
  static const Config cfg = make_config();
  std::string_view input(reinterpret_cast<const char*>(data), size);
  const bool resign = !input.empty() && input[0] == '!';
  if (resign) input.remove_prefix(1);
  api::Request req = parse_request(input);
  if (resign) sign(req, cfg);
  check_canonical_forms(req);

  ManualClock clock{kNowMs};
  auto nonces = auth::make_memory_nonce_store(1000);
  auto rates = auth::make_memory_rate_limiter(1000);
  metrics::Registry reg;
  api::ServerAuth server_auth{cfg, directory(), *nonces, *rates, reg, clock.as_clock()};
  auto first = server_auth.authenticate(req, apps::kScopePublish);
  if (!first) {
    FUZZ_CHECK(!first.error().code_name().empty());
    return 0;
  }
  FUZZ_CHECK(auth::well_formed_escapes(req.path) && auth::well_formed_escapes(req.query));
  FUZZ_CHECK(auth::unambiguous_query(req.query));
  check_reads_match_signature(req);
  auto replay = server_auth.authenticate(req, apps::kScopePublish);
  FUZZ_CHECK(!replay && replay.error().code == Errc::kNonceReplayed);
  return 0;
}
