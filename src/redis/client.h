// A Redis client for the cluster broker and the shared security state: hiredis parses and
// formats RESP, the I/O is our own on Asio (plain TCP or TLS for rediss://) on one
// connection thread per Connection, so callers on I/O threads never block on a socket.
// No Asio or hiredis type appears here: domain code includes this header only.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace herald::metrics {
class Registry;
}

namespace herald::redis {

// One RESP reply. Errors Redis returns ("-ERR ...", "-NOSCRIPT ...") are Type::Error
// values, not failed Results: a failed Result means the command never got an answer
// (not connected, queue full, timed out, connection lost while it was in flight).
struct Reply {
  enum class Type { Nil, Integer, String, Status, Error, Array };
  Type type = Type::Nil;
  std::int64_t integer = 0;
  std::string str;  // String, Status and Error
  std::vector<Reply> elements;

  bool is_nil() const { return type == Type::Nil; }
  bool is_error() const { return type == Type::Error; }
};

// Parsed from broker.redis.url and its neighbours.
struct Options {
  // redis://[[user]:password@]host[:port][/db] or rediss://... (TLS). The password is a
  // secret: it never appears in a log line or an error message.
  std::string url;
  std::string tls_ca_file;  // rediss://: the CA to verify the server with; empty: system CAs
  bool tls_verify = true;   // false only for tests with a self-signed certificate
  std::chrono::milliseconds connect_timeout{2000};
  // A command not answered within this fails with "broker_unavailable" and the
  // connection is dropped and made again (a hung server must not hold callers).
  std::chrono::milliseconds command_timeout{2000};
  std::size_t max_queue = 10000;  // commands queued or in flight; beyond: "broker_unavailable"
  std::string client_name;        // CLIENT SETNAME (the node name), for `CLIENT LIST`
};

// Checks and splits a URL; "invalid_config" naming what is wrong (never echoing the password).
Status check_url(std::string_view url);

// A Lua script run by EVALSHA, loaded (SCRIPT LOAD) on first use and again after NOSCRIPT.
struct Script {
  explicit Script(std::string source);
  std::string source;
  std::string sha1;  // hex, computed from source
};

// One connection: commands pipelined, answered in the order sent. Reconnects by itself
// with backoff (100 ms doubling to 2 s) for as long as it lives.
class Connection {
 public:
  using Callback = std::function<void(Result<Reply>)>;

  virtual ~Connection() = default;
  // Any thread. `done` runs on the connection thread, so it must be quick and must not
  // call a blocking method of this class. While disconnected, fails at once with
  // "broker_unavailable" (nothing is queued for later).
  virtual void command(std::vector<std::string> args, Callback done) = 0;
  virtual void eval(const Script& script, std::vector<std::string> keys, std::vector<std::string> args,
                    Callback done) = 0;
  // Blocking forms, for start-up, tests and threads that may wait: the reply, or
  // "broker_unavailable" after command_timeout. Never call them on the connection thread.
  virtual Result<Reply> call(std::vector<std::string> args) = 0;
  virtual Result<Reply> call_eval(const Script& script, std::vector<std::string> keys,
                                  std::vector<std::string> args) = 0;
  virtual bool connected() const = 0;
  // Called on the connection thread after each (re)connect with the server's run_id
  // (INFO server): a changed run_id means Redis restarted and may have lost data.
  // Set before the first connect completes (right after make_connection).
  virtual void on_connected(std::function<void(const std::string& run_id)> fn) = 0;
  virtual void on_disconnected(std::function<void()> fn) = 0;
  // Stops the thread; pending callbacks fail with "broker_unavailable". Idempotent.
  virtual void close() = 0;
};

// A connection in (sharded) Pub/Sub mode. Subscriptions are kept across reconnects: each
// reconnect subscribes again to every channel held, then calls on_connected, so a
// caller knows a gap may have opened while it was away.
class Subscriber {
 public:
  virtual ~Subscriber() = default;
  // Any thread. SSUBSCRIBE / SUNSUBSCRIBE `channel`; `done` (optional) hears when Redis
  // confirmed the subscription (on the connection thread), or "broker_unavailable".
  virtual void subscribe(const std::string& channel, std::function<void(Status)> done = {}) = 0;
  virtual void unsubscribe(const std::string& channel) = 0;
  // Messages, in the order Redis sent them, on the connection thread. Set before use.
  virtual void on_message(std::function<void(std::string_view channel, std::string_view payload)> fn) = 0;
  virtual void on_connected(std::function<void()> fn) = 0;
  virtual void on_disconnected(std::function<void()> fn) = 0;
  virtual bool connected() const = 0;
  virtual void close() = 0;
};

// Starts connecting at once and returns without waiting; "invalid_config" for a bad URL.
// `registry` (optional) gets herald_redis_* metrics labelled by `role` ("commands", "pubsub", ...).
Result<std::unique_ptr<Connection>> make_connection(const Options& opts, std::string_view role,
                                                    metrics::Registry* registry = nullptr);
Result<std::unique_ptr<Subscriber>> make_subscriber(const Options& opts, std::string_view role,
                                                    metrics::Registry* registry = nullptr);

}  // namespace herald::redis
