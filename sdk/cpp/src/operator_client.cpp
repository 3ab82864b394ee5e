// OperatorClient: the key service's status, unseal and seal. A share is a secret: the
// request body that carries it is overwritten once sent.
#include <boost/json.hpp>

#include "client_core.h"
#include "herald/client.h"

namespace herald::sdk {

using detail::HttpRequest;
using detail::HttpResponse;
namespace json = boost::json;

class OperatorClient::Impl {
 public:
  explicit Impl(AdminClientOptions o) : core_(std::move(o.connection)), token_(std::move(o.admin_token)) {}

  Result<SealStatus> call(std::string_view method, std::string_view path, std::string_view body, bool with_token) {
    std::vector<std::string> headers;
    if (with_token) {
      if (token_.empty()) return Error{"invalid_argument", "the admin token is required to seal", 0, {}, 0};
      std::string auth = "Authorization: Bearer ";
      auth.append(token_.view());
      headers.push_back(std::move(auth));
    }
    HttpRequest req{method, path, std::move(headers), body, !body.empty() || method == "POST"};
    auto r = core_.call(req);
    for (auto& h : req.headers) detail::cleanse(h);
    if (!r) return r.error();
    return detail::decode<SealStatus>(*r, false, [](const json::value& v) {
      const auto& o = detail::obj(v, "the answer");
      SealStatus s;
      auto flag = [&](std::string_view name) {
        const auto& f = detail::field(o, name);
        if (!f.is_bool()) throw detail::Malformed{std::string(name) + " is not a boolean"};
        return f.get_bool();
      };
      s.initialized = flag("initialized");
      s.sealed = flag("sealed");
      s.threshold = static_cast<unsigned>(detail::u64(o, "threshold"));
      s.shares = static_cast<unsigned>(detail::u64(o, "shares"));
      s.progress = static_cast<unsigned>(detail::u64(o, "progress"));
      return Result<SealStatus>(s);
    });
  }

 private:
  detail::ClientCore core_;
  SecretString token_;
};

OperatorClient::OperatorClient(AdminClientOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
OperatorClient::~OperatorClient() = default;
OperatorClient::OperatorClient(OperatorClient&&) noexcept = default;
OperatorClient& OperatorClient::operator=(OperatorClient&&) noexcept = default;

Result<SealStatus> OperatorClient::status() { return impl_->call("GET", "/admin/v1/operator/status", {}, false); }

Result<SealStatus> OperatorClient::unseal(const SecretString& share) {
  std::string body = "{\"share\":";
  body += json::serialize(json::string(share.view()));
  body += "}";
  auto r = impl_->call("POST", "/admin/v1/operator/unseal", body, false);
  detail::cleanse(body);
  return r;
}

Result<SealStatus> OperatorClient::reset_unseal() {
  return impl_->call("POST", "/admin/v1/operator/unseal", "{\"reset\":true}", true);
}

Result<SealStatus> OperatorClient::reset_unseal(const SecretString& share) {
  std::string body = "{\"reset\":true,\"share\":";
  body += json::serialize(json::string(share.view()));
  body += "}";
  auto r = impl_->call("POST", "/admin/v1/operator/unseal", body, false);
  detail::cleanse(body);
  return r;
}

Result<SealStatus> OperatorClient::seal() { return impl_->call("POST", "/admin/v1/operator/seal", "{}", true); }

}  // namespace herald::sdk
