// One keep-alive HTTP(S) connection through libcurl, used by both clients. Internal:
// curl stays out of the public headers.
#pragma once

#include <mutex>
#include <string>
#include <vector>

#include "herald/client.h"

namespace herald::sdk::detail {

struct HttpRequest {
  std::string_view method;           // GET, POST, DELETE
  std::string_view path;             // appended to the base URL: "/api/v1/publish"
  std::vector<std::string> headers;  // "Name: value"
  std::string_view body;
  bool has_body = false;  // sends Content-Type: application/json
};

struct HttpResponse {
  int status = 0;
  std::string body;
  std::string request_id;
  int retry_after_s = 0;
  bool idempotent_replayed = false;
};

class HttpTransport {
 public:
  // Fails with invalid_argument if the base URL is not http(s)://host[:port][/prefix].
  static Result<std::unique_ptr<HttpTransport>> make(ConnectionOptions options);
  ~HttpTransport();
  HttpTransport(const HttpTransport&) = delete;
  HttpTransport& operator=(const HttpTransport&) = delete;

  // The base URL's path prefix ("" or "/prefix"), which is part of what is signed.
  const std::string& path_prefix() const { return prefix_; }

  Result<HttpResponse> send(const HttpRequest& request);

 private:
  explicit HttpTransport(ConnectionOptions options) : options_(std::move(options)) {}

  ConnectionOptions options_;
  std::string origin_;  // scheme://authority
  std::string prefix_;
  void* curl_ = nullptr;  // CURL*, reused so that its connection stays open
  std::mutex mu_;
};

// The server's error body {"error": {code, message, request_id}} as an Error, or an
// http_error when the body is not one.
Error error_from_response(const HttpResponse& response);

}  // namespace herald::sdk::detail
