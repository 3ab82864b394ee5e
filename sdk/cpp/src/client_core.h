// What ServerClient and AdminClient share: the transport (or the error that kept it
// from being made), turning error statuses into Errors, and decoding answers. Internal.
#pragma once

#include <openssl/crypto.h>

#include <memory>

#include "http_transport.h"
#include "json_read.h"

namespace herald::sdk::detail {

class ClientCore {
 public:
  explicit ClientCore(ConnectionOptions options) {
    auto t = HttpTransport::make(std::move(options));
    if (t)
      transport_ = std::move(*t);
    else
      init_error_ = t.error();
  }

  const std::string& path_prefix() const {
    static const std::string kEmpty;
    return transport_ ? transport_->path_prefix() : kEmpty;
  }

  // Sends; a status other than 2xx becomes the server's Error.
  Result<HttpResponse> call(const HttpRequest& request) {
    if (!transport_) return init_error_;
    auto r = transport_->send(request);
    if (!r) return r.error();
    if (r->status < 200 || r->status > 299) return error_from_response(*r);
    return r;
  }

 private:
  std::unique_ptr<HttpTransport> transport_;
  Error init_error_;
};

// Overwrites a buffer that held secrets before it is freed.
inline void cleanse(std::string& s) {
  s.resize(s.capacity());
  OPENSSL_cleanse(s.data(), s.size());
  s.clear();
}

// Parses the answer's body and hands the root to `read`, whose result is returned; a
// body that is not JSON, or that `read` finds malformed, is an invalid_response error.
// With `sensitive`, the body and the parsed tree are in memory that is overwritten
// before it is freed (answers that carry secrets).
template <class T, class Read>
Result<T> decode(HttpResponse& response, bool sensitive, Read read) {
  std::string buffer;
  std::unique_ptr<json::monotonic_resource> arena;
  if (sensitive) {
    // Big enough that the tree of a small answer never spills to the heap.
    buffer.resize(response.body.size() * 8 + 4096);
    arena = std::make_unique<json::monotonic_resource>(reinterpret_cast<unsigned char*>(buffer.data()), buffer.size());
  }
  struct Wipe {
    bool on;
    std::string& a;
    std::string& b;
    ~Wipe() {
      if (on) {
        cleanse(a);
        cleanse(b);
      }
    }
  } wipe{sensitive, buffer, response.body};
  boost::system::error_code ec;
  json::value root = json::parse(response.body, ec, arena ? json::storage_ptr(arena.get()) : json::storage_ptr());
  if (ec) return invalid_response("the body is not JSON", response.request_id);
  // Malformed is thrown only by the readers in json_read.h and caught here: it keeps
  // every field access a one-liner.
  try {
    return read(root);
  } catch (const Malformed& m) {
    return invalid_response(m.what, response.request_id);
  }
}

}  // namespace herald::sdk::detail
