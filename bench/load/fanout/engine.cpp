// Subscribers and publishers as coroutines on per-thread io_contexts. Subscriber i
// lives on thread i % T and binds to source address 127.0.0.(1 + i % K); each thread
// sets up its share with a fixed number of setup coroutines (the concurrency bound),
// then every subscriber runs a read loop that counts deliveries into its thread's
// statistics. Nothing on the receive path allocates once buffers have grown.
#include "fanout/engine.h"

#include <netinet/in.h>
#include <netinet/ip.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>

#include <atomic>
#include <boost/asio/basic_waitable_timer.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <chrono>
#include <cstring>
#include <mutex>
#include <thread>

#include "fanout/jwt.h"
#include "fanout/wire.h"

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

namespace fanout {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using boost::system::error_code;
// A concrete executor type throughout (sockets, timers, coroutines) spares every
// asynchronous operation the type-erased any_io_executor's copies.
using Executor = asio::io_context::executor_type;
using Socket = asio::basic_stream_socket<tcp, Executor>;
using Timer =
    asio::basic_waitable_timer<std::chrono::steady_clock, asio::wait_traits<std::chrono::steady_clock>, Executor>;
using PlainWs = websocket::stream<Socket>;
using TlsWs = websocket::stream<asio::ssl::stream<Socket>>;
template <class T>
using Task = asio::awaitable<T, Executor>;
constexpr asio::use_awaitable_t<Executor> kUseTask;

std::uint64_t steady_now_ns() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
          .count());
}

namespace {

constexpr std::uint32_t kConnectId = 1;
constexpr std::uint32_t kSubscribeId = 2;
constexpr std::uint32_t kFirstPublishId = 10;
constexpr std::size_t kMaxErrors = 8;
// The batched reader's initial buffer per connection; it grows to the largest frame.
constexpr std::size_t kReadBuffer = 8192;

// Counters of one generator thread. `delivered` is written only by its thread and
// read by the publishers (for --max-inflight) and the driver; the rest is read after
// the threads are joined.
struct alignas(64) ThreadStats {
  std::atomic<std::uint64_t> delivered{0};
  std::uint64_t without_time = 0;
  std::uint64_t out_of_order = 0;  // a message at or before one already received: duplicated or reordered
  std::uint64_t gaps = 0;          // messages skipped over: a later one came first
  std::uint64_t frames = 0;
  std::uint64_t last_delivery_ns = 0;
  LatencyHistogram latency;
};

struct Worker {
  explicit Worker(int i) : index(i), ioc(1) {}
  int index;
  ThreadStats stats;
  std::thread thread;
  int next_subscriber = 0;  // k-th subscriber of this thread is i = index + k * T
  // Last, so that it goes first: destroying it destroys the coroutine frames that
  // still refer to the members above.
  asio::io_context ioc;
};

template <class Ws>
struct Conn {
  template <class... Args>
  explicit Conn(Args&&... args) : ws(std::forward<Args>(args)...) {}
  Ws ws;
  beast::flat_buffer buf;
  NatsParser nats;
  std::string out;
  bool pong_due = false;
  bool ready = false;                   // set up; the set-up deadline no longer applies
  std::vector<char> raw;                // the batched reader's buffer
  std::vector<std::uint64_t> next_seq;  // per publisher: the sequence number expected next
  std::string frag;                     // a fragmented Herald message being put together
};

}  // namespace

struct Engine::Impl {
  explicit Impl(const Options& opts) : o(opts), ssl_ctx(asio::ssl::context::tls_client) {}

  const Options& o;
  asio::ssl::context ssl_ctx;
  tcp::endpoint target;
  std::string host_header;
  std::vector<asio::ip::address_v4> sources;
  std::vector<std::unique_ptr<Worker>> workers;
  std::int64_t token_exp = 0;

  std::atomic<std::uint64_t> established{0}, subscribed{0}, failed{0}, late{0}, disconnects{0};
  std::atomic<int> publishers_ready{0}, publishers_failed{0}, publishers_done{0};
  std::atomic<std::uint64_t> published{0}, publish_acks{0}, publish_errors{0};
  std::atomic<std::uint64_t> first_publish_ns{0}, last_publish_ns{0};
  std::atomic<bool> publishing{false}, stopping{false};
  mutable std::mutex errors_mu;
  std::vector<std::string> errors;

  void note_error(std::string_view what) {
    std::lock_guard lock(errors_mu);
    if (errors.size() >= kMaxErrors) return;
    std::string s(what.substr(0, 300));
    for (const auto& e : errors)
      if (e == s) return;
    errors.push_back(std::move(s));
  }

  std::uint64_t delivered_total() const {
    std::uint64_t d = 0;
    for (const auto& w : workers) d += w->stats.delivered.load(std::memory_order_relaxed);
    return d;
  }

  // Messages that may still be published before --max-inflight is reached.
  std::uint64_t inflight_room() const {
    std::uint64_t subs = subscribed.load(std::memory_order_relaxed);
    if (subs == 0) return o.max_inflight;
    std::uint64_t done = delivered_total() / subs;
    std::uint64_t sent = published.load(std::memory_order_relaxed);
    std::uint64_t inflight = sent > done ? sent - done : 0;
    return inflight >= o.max_inflight ? 0 : o.max_inflight - inflight;
  }

  // ---- connection set-up ------------------------------------------------------

  template <class Ws>
  std::shared_ptr<Conn<Ws>> make_conn(Worker& w) {
    if constexpr (std::is_same_v<Ws, TlsWs>)
      return std::make_shared<Conn<Ws>>(w.ioc.get_executor(), ssl_ctx);
    else
      return std::make_shared<Conn<Ws>>(w.ioc.get_executor());
  }

  // Closes a connection whose set-up outlasts --connect-timeout (a server that never
  // answers, say): its pending operation then fails and the set-up gives up on it.
  template <class Ws>
  void arm_setup_deadline(Timer& timer, const std::shared_ptr<Conn<Ws>>& c) {
    timer.expires_after(std::chrono::duration_cast<std::chrono::steady_clock::duration>(
        std::chrono::duration<double>(o.connect_timeout)));
    timer.async_wait([weak = std::weak_ptr<Conn<Ws>>(c)](error_code ec) {
      if (ec) return;
      if (auto conn = weak.lock(); conn && !conn->ready) {
        error_code ignored;
        beast::get_lowest_layer(conn->ws).close(ignored);
      }
    });
  }

  // TCP (bound to a source address, port chosen at connect time so that many
  // connections share it), TLS, WebSocket upgrade.
  template <class Ws>
  Task<error_code> open(Conn<Ws>& c, std::size_t n) {
    error_code ec;
    auto& sock = beast::get_lowest_layer(c.ws);
    sock.open(tcp::v4(), ec);
    if (ec) co_return ec;
    int one = 1;
    ::setsockopt(sock.native_handle(), IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    sock.set_option(tcp::no_delay(true), ec);
    sock.bind(tcp::endpoint(sources[n % sources.size()], 0), ec);
    if (ec) co_return ec;
    co_await sock.async_connect(target, asio::redirect_error(kUseTask, ec));
    if (ec) co_return ec;
    if constexpr (std::is_same_v<Ws, TlsWs>) {
      SSL_set_tlsext_host_name(c.ws.next_layer().native_handle(), o.target.host.c_str());
      if (!o.ca_file.empty()) c.ws.next_layer().set_verify_callback(asio::ssl::host_name_verification(o.target.host));
      co_await c.ws.next_layer().async_handshake(asio::ssl::stream_base::client, asio::redirect_error(kUseTask, ec));
      if (ec) co_return ec;
    }
    c.ws.secure_prng(false);  // masking keys need not be unpredictable here
    c.ws.auto_fragment(false);
    c.ws.read_message_max(64 * 1024 * 1024);
    co_await c.ws.async_handshake(host_header, o.target.path, asio::redirect_error(kUseTask, ec));
    co_return ec;
  }

  // Reads until the reply to `want_id` (Herald) or a PONG (NATS). False on an error
  // reply, -ERR or a broken connection.
  template <class Ws>
  Task<bool> await_ack(Conn<Ws>& c, std::uint32_t want_id) {
    struct Sink {
      Impl& e;
      std::uint32_t want;
      bool done = false, ok = true;
      bool pong_due = false;
      void on_pub(Stamp) {}
      void on_reply(std::uint64_t id, bool is_error, std::string_view line) {
        if (is_error) {
          e.note_error(line);
          done = true;
          ok = false;
        } else if (id == want) {
          done = true;
        }
      }
      void on_other(std::string_view line) { e.note_error(line); }
      void on_msg(Stamp) {}
      void on_ping() { pong_due = true; }
      void on_pong() { done = true; }
      void on_error(std::string_view line) {
        e.note_error(line);
        done = true;
        ok = false;
      }
    } sink{*this, want_id};
    error_code ec;
    while (!sink.done) {
      co_await c.ws.async_read(c.buf, asio::redirect_error(kUseTask, ec));
      if (ec) {
        if (!stopping.load(std::memory_order_relaxed)) note_error("connection lost during set-up: " + ec.message());
        co_return false;
      }
      auto data = c.buf.cdata();
      const char* p = static_cast<const char*>(data.data());
      if (o.proto == Proto::kHerald) {
        scan_herald_frame(std::string_view(p, data.size()), sink);
      } else if (!c.nats.feed(p, data.size(), sink)) {
        note_error("NATS protocol error during set-up");
        co_return false;
      }
      c.buf.consume(c.buf.size());
    }
    c.pong_due = sink.pong_due;
    co_return sink.ok;
  }

  template <class Ws>
  Task<error_code> write_out(Conn<Ws>& c) {
    error_code ec;
    co_await c.ws.async_write(asio::buffer(c.out), asio::redirect_error(kUseTask, ec));
    co_return ec;
  }

  // Connect, authenticate and subscribe subscriber i; null when anything failed.
  template <class Ws>
  Task<std::shared_ptr<Conn<Ws>>> subscribe_one(Worker& w, std::size_t i) {
    auto c = make_conn<Ws>(w);
    Timer deadline(w.ioc.get_executor());
    arm_setup_deadline(deadline, c);
    error_code ec = co_await open(*c, i);
    if (ec) {
      note_error("connect: " + ec.message());
      co_return nullptr;
    }
    established.fetch_add(1, std::memory_order_relaxed);
    std::uint32_t want = 0;
    c->out.clear();
    if (o.proto == Proto::kHerald) {
      c->ws.text(true);
      std::string token = make_hs256_token(o.client_secret, "bench-" + std::to_string(i), token_exp);
      append_herald_connect(c->out, kConnectId, o.app_key, token);
      c->out.push_back('\n');
      append_herald_subscribe(c->out, kSubscribeId, o.channel);
      want = kSubscribeId;
    } else {
      c->ws.binary(true);
      c->out.append("CONNECT {\"verbose\":false,\"pedantic\":false,\"protocol\":1}\r\nSUB ");
      c->out.append(o.channel);
      c->out.append(" 1\r\nPING\r\n");
    }
    ec = co_await write_out(*c);
    if (ec) {
      note_error("subscribe: " + ec.message());
      co_return nullptr;
    }
    if (!co_await await_ack(*c, want)) co_return nullptr;
    c->ready = true;
    co_return c;
  }

  // ---- subscribers --------------------------------------------------------------

  template <class Ws>
  Task<void> setup_loop(Worker& w) {
    const int threads = static_cast<int>(workers.size());
    for (;;) {
      if (stopping.load(std::memory_order_relaxed)) co_return;
      std::size_t i = static_cast<std::size_t>(w.index) + static_cast<std::size_t>(w.next_subscriber) * threads;
      if (i >= static_cast<std::size_t>(o.subscribers)) co_return;
      ++w.next_subscriber;
      auto c = co_await subscribe_one<Ws>(w, i);
      if (!c) {
        failed.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      if (publishing.load()) {
        late.fetch_add(1, std::memory_order_relaxed);  // dropped: it may have missed messages
        continue;
      }
      subscribed.fetch_add(1, std::memory_order_relaxed);
      c->next_seq.assign(static_cast<std::size_t>(o.publishers), 0);
      if (!o.beast_reader) c->buf.shrink_to_fit();  // only the set-up read through it
      asio::co_spawn(w.ioc.get_executor(), read_loop<Ws>(w, std::move(c)), asio::detached);
    }
  }

  // Counts what one read brought: deliveries with their latency, NATS PINGs, errors.
  struct DeliverySink {
    Impl& e;
    ThreadStats& s;
    std::vector<std::uint64_t>& next_seq;
    std::uint64_t now;
    std::uint64_t count = 0;
    bool pong_due = false;
    // Every publisher's messages must arrive in the order it sent them (sequence
    // number s = k * P + p for publisher p's k-th message), once each.
    void delivery(Stamp st) {
      ++count;
      if (st.t == 0 || st.seq == Stamp::kNoSeq) {
        ++s.without_time;
        return;
      }
      s.latency.record(now > st.t ? now - st.t : 0);
      std::size_t pubs = next_seq.size();
      std::uint64_t& next = next_seq[static_cast<std::size_t>(st.seq % pubs)];
      std::uint64_t k = st.seq / pubs;
      if (k == next) {
        ++next;
      } else if (k < next) {
        ++s.out_of_order;
      } else {
        s.gaps += k - next;
        next = k + 1;
      }
    }
    void on_pub(Stamp st) { delivery(st); }
    void on_msg(Stamp st) { delivery(st); }
    void on_reply(std::uint64_t, bool is_error, std::string_view line) {
      if (is_error) e.note_error(line);
    }
    void on_other(std::string_view line) { e.note_error(line); }
    void on_ping() { pong_due = true; }
    void on_pong() {}
    void on_error(std::string_view line) { e.note_error(line); }
    // Publishes the count where the publishers and the driver can see it.
    void flush() {
      if (count == 0) return;
      s.delivered.store(s.delivered.load(std::memory_order_relaxed) + count, std::memory_order_relaxed);
      s.last_delivery_ns = now;
    }
  };

  void subscriber_lost(const error_code& ec) {
    if (stopping.load(std::memory_order_relaxed)) return;
    disconnects.fetch_add(1, std::memory_order_relaxed);
    note_error("subscriber disconnected: " + (ec ? ec.message() : std::string("closed by the server")));
  }

  template <class Ws>
  Task<void> read_loop(Worker& w, std::shared_ptr<Conn<Ws>> c) {
    if (c->pong_due) {
      c->out.assign("PONG\r\n");
      co_await write_out(*c);
    }
    if (o.beast_reader)
      co_await message_read_loop(w, *c);
    else
      co_await batched_read_loop(w, *c);
  }

  // The receive path with Beast's reader (--beast-reader): one WebSocket message per
  // read operation, scanned in place; the clock is read once per message.
  template <class Ws>
  Task<void> message_read_loop(Worker& w, Conn<Ws>& c) {
    ThreadStats& s = w.stats;
    error_code ec;
    for (;;) {
      co_await c.ws.async_read(c.buf, asio::redirect_error(kUseTask, ec));
      if (ec) break;
      DeliverySink sink{*this, s, c.next_seq, steady_now_ns()};
      auto data = c.buf.cdata();
      const char* p = static_cast<const char*>(data.data());
      if (o.proto == Proto::kHerald) {
        scan_herald_frame(std::string_view(p, data.size()), sink);
      } else if (!c.nats.feed(p, data.size(), sink)) {
        note_error("NATS protocol error");
        break;
      }
      c.buf.consume(c.buf.size());
      ++s.frames;
      sink.flush();
      if (sink.pong_due) {
        c.out.assign("PONG\r\n");
        if (co_await write_out(c)) break;
      }
    }
    subscriber_lost(ec);
  }

  // Asio's TLS stream returns one record per read operation, and a server that writes
  // small frames writes small records: draining what OpenSSL already holds (Asio fed it
  // every byte it read from the socket) with SSL_read spares a scheduler round trip
  // and Asio's engine per record. Nothing else runs on the stream meanwhile; a record
  // that would need an answer (a TLS 1.3 KeyUpdate asking for one) is not expected from
  // the servers measured here.
  static std::size_t drain_tls(asio::ssl::stream<Socket>& stream, char* p, std::size_t room) {
    std::size_t got = 0;
    SSL* ssl = stream.native_handle();
    while (room - got > 0) {
      int r = SSL_read(ssl, p + got, static_cast<int>(std::min<std::size_t>(room - got, 1 << 30)));
      if (r <= 0) {
        if (SSL_get_error(ssl, r) != SSL_ERROR_WANT_READ) ERR_clear_error();  // the next read reports it
        break;
      }
      got += static_cast<std::size_t>(r);
    }
    return got;
  }

  // The default receive path: read whatever the socket (or TLS stream) holds, up to
  // the buffer's size, and walk the WebSocket frames in it. A server that writes many
  // small frames costs one read and one coroutine resumption per batch instead of a
  // chain of library operations per frame. Beast still does the handshake and writes.
  // Its own read buffer is empty here: after the subscription's acknowledgement the
  // server sends nothing until publishing starts.
  template <class Ws>
  Task<void> batched_read_loop(Worker& w, Conn<Ws>& c) {
    struct FrameSink {
      Impl& e;
      Conn<Ws>& c;
      DeliverySink& d;
      std::uint64_t messages = 0;
      bool closed = false, bad = false, ping = false;
      websocket::ping_data ping_payload;
      void on_frame(int opcode, bool fin, std::string_view payload) {
        switch (opcode) {
          case 0:
          case 1:
          case 2:
            if (fin) ++messages;
            if (e.o.proto == Proto::kNats) {
              if (!c.nats.feed(payload.data(), payload.size(), d)) bad = true;
            } else if (fin && c.frag.empty()) {
              scan_herald_frame(payload, d);
            } else {  // a fragmented message: lines may straddle the fragments
              c.frag.append(payload);
              if (fin) {
                scan_herald_frame(c.frag, d);
                c.frag.clear();
              }
            }
            break;
          case 8:
            closed = true;
            break;
          case 9:
            ping = true;
            ping_payload.assign(payload.data(), payload.size());
            break;
          default:
            break;
        }
      }
    };
    ThreadStats& s = w.stats;
    auto& stream = c.ws.next_layer();
    if (c.raw.size() < kReadBuffer) c.raw.resize(kReadBuffer);
    std::size_t have = 0;
    error_code ec;
    for (;;) {
      std::size_t n = co_await stream.async_read_some(asio::buffer(c.raw.data() + have, c.raw.size() - have),
                                                      asio::redirect_error(kUseTask, ec));
      if (ec) break;
      have += n;
      if constexpr (std::is_same_v<Ws, TlsWs>) have += drain_tls(stream, c.raw.data() + have, c.raw.size() - have);
      DeliverySink d{*this, s, c.next_seq, steady_now_ns()};
      FrameSink f{*this, c, d};
      WsFrameScan r = scan_ws_frames(c.raw.data(), have, f);
      d.flush();
      s.frames += f.messages;
      if (r.bad || f.bad) {
        note_error(f.bad ? "NATS protocol error" : "bad WebSocket frame from the server");
        break;
      }
      if (f.closed) break;
      if (r.used < have) std::memmove(c.raw.data(), c.raw.data() + r.used, have - r.used);
      have -= r.used;
      if (r.need > c.raw.size()) c.raw.resize(r.need);
      if (f.ping) {
        co_await c.ws.async_pong(f.ping_payload, asio::redirect_error(kUseTask, ec));
        if (ec) break;
      }
      if (d.pong_due) {
        c.out.assign("PONG\r\n");
        if ((ec = co_await write_out(c))) break;
      }
    }
    subscriber_lost(ec);
  }

  // ---- publishers -----------------------------------------------------------------

  template <class Ws>
  Task<void> publisher(Worker& w, int p) {
    std::shared_ptr<Conn<Ws>> c = co_await connect_publisher<Ws>(w, p);
    if (!c) {
      publishers_failed.fetch_add(1);
      co_return;
    }
    publishers_ready.fetch_add(1);
    asio::co_spawn(w.ioc.get_executor(), publisher_reader<Ws>(c), asio::detached);

    Timer timer(w.ioc.get_executor());
    error_code ec;
    while (!publishing.load() && !stopping.load()) {
      timer.expires_after(std::chrono::milliseconds(1));
      co_await timer.async_wait(asio::redirect_error(kUseTask, ec));
    }

    const auto pubs = static_cast<std::uint64_t>(o.publishers);
    const std::uint64_t mine = o.messages / pubs + (static_cast<std::uint64_t>(p) < o.messages % pubs ? 1 : 0);
    const double rate = o.rate / static_cast<double>(o.publishers);
    const std::uint64_t t0 = steady_now_ns();
    std::uint64_t expected_zero = 0;
    first_publish_ns.compare_exchange_strong(expected_zero, t0);
    std::uint32_t id = kFirstPublishId;
    std::uint64_t seq = 0;
    // In --rate mode each message carries its scheduled send time, so that a publisher
    // that falls behind shows up as latency instead of hiding it.
    auto scheduled = [&](std::uint64_t k) {
      return t0 + static_cast<std::uint64_t>(static_cast<double>(k) * 1e9 / rate);
    };
    while (seq < mine && !stopping.load(std::memory_order_relaxed)) {
      std::uint64_t now = steady_now_ns();
      std::uint64_t allowed = std::min<std::uint64_t>(mine - seq, static_cast<std::uint64_t>(o.batch));
      if (rate > 0) {
        auto due = static_cast<std::uint64_t>(static_cast<double>(now - t0) * rate / 1e9) + 1;
        if (due > mine) due = mine;
        if (due <= seq) {
          timer.expires_at(std::chrono::steady_clock::time_point(std::chrono::nanoseconds(scheduled(seq))));
          co_await timer.async_wait(asio::redirect_error(kUseTask, ec));
          continue;
        }
        allowed = std::min(allowed, due - seq);
      }
      if (o.max_inflight > 0) {
        std::uint64_t room = inflight_room();
        if (room == 0) {
          timer.expires_after(std::chrono::microseconds(100));
          co_await timer.async_wait(asio::redirect_error(kUseTask, ec));
          continue;
        }
        allowed = std::min(allowed, room);
      }
      c->out.clear();
      if (c->pong_due) {
        c->out.append("PONG\r\n");
        c->pong_due = false;
      }
      for (std::uint64_t k = 0; k < allowed; ++k) {
        std::uint64_t t = rate > 0 ? scheduled(seq + k) : now;
        if (o.proto == Proto::kHerald) {
          if (k > 0) c->out.push_back('\n');
          append_herald_publish(c->out, id++, o.channel, t, (seq + k) * pubs + static_cast<std::uint64_t>(p), o.size);
        } else {
          append_nats_publish(c->out, o.channel, t, (seq + k) * pubs + static_cast<std::uint64_t>(p), o.size);
        }
      }
      published.fetch_add(allowed, std::memory_order_relaxed);
      seq += allowed;
      if (co_await write_out(*c)) {
        if (!stopping.load()) note_error("publisher connection lost");
        break;
      }
    }
    std::uint64_t end = steady_now_ns();
    std::uint64_t prev = last_publish_ns.load();
    while (prev < end && !last_publish_ns.compare_exchange_weak(prev, end)) {
    }
    publishers_done.fetch_add(1);
  }

  template <class Ws>
  Task<std::shared_ptr<Conn<Ws>>> connect_publisher(Worker& w, int p) {
    std::shared_ptr<Conn<Ws>> c = make_conn<Ws>(w);
    Timer deadline(w.ioc.get_executor());
    arm_setup_deadline(deadline, c);
    error_code ec = co_await open(*c, static_cast<std::size_t>(p));
    if (ec) {
      note_error("publisher connect: " + ec.message());
      co_return nullptr;
    }
    c->out.clear();
    if (o.proto == Proto::kHerald) {
      c->ws.text(true);
      append_herald_connect(c->out, kConnectId, o.app_key,
                            make_hs256_token(o.client_secret, "bench-pub-" + std::to_string(p), token_exp));
    } else {
      c->ws.binary(true);
      c->out.append("CONNECT {\"verbose\":false,\"pedantic\":false,\"protocol\":1}\r\nPING\r\n");
    }
    if (co_await write_out(*c)) co_return nullptr;
    if (!co_await await_ack(*c, kConnectId)) co_return nullptr;
    c->ready = true;
    co_return c;
  }

  // Counts the replies to publishes (Herald) and notes PINGs and errors (NATS).
  template <class Ws>
  Task<void> publisher_reader(std::shared_ptr<Conn<Ws>> c) {
    struct Sink {
      Impl& e;
      Conn<Ws>& c;
      void on_pub(Stamp) {}
      void on_reply(std::uint64_t, bool is_error, std::string_view line) {
        if (is_error) {
          e.publish_errors.fetch_add(1, std::memory_order_relaxed);
          e.note_error(line);
        } else {
          e.publish_acks.fetch_add(1, std::memory_order_relaxed);
        }
      }
      void on_other(std::string_view line) { e.note_error(line); }
      void on_msg(Stamp) {}
      void on_ping() { c.pong_due = true; }
      void on_pong() {}
      void on_error(std::string_view line) {
        e.publish_errors.fetch_add(1, std::memory_order_relaxed);
        e.note_error(line);
      }
    } sink{*this, *c};
    beast::flat_buffer buf;
    NatsParser parser;
    error_code ec;
    for (;;) {
      co_await c->ws.async_read(buf, asio::redirect_error(kUseTask, ec));
      if (ec) break;
      auto data = buf.cdata();
      const char* p = static_cast<const char*>(data.data());
      if (o.proto == Proto::kHerald)
        scan_herald_frame(std::string_view(p, data.size()), sink);
      else if (!parser.feed(p, data.size(), sink))
        break;
      buf.consume(buf.size());
    }
  }

  template <class Ws>
  void spawn_all() {
    const int threads = static_cast<int>(workers.size());
    int per_thread = std::max(1, o.connect_concurrency / threads);
    for (auto& w : workers)
      for (int k = 0; k < per_thread; ++k) asio::co_spawn(w->ioc.get_executor(), setup_loop<Ws>(*w), asio::detached);
    for (int p = 0; p < o.publishers; ++p) {
      Worker& w = *workers[static_cast<std::size_t>(p % threads)];
      asio::co_spawn(w.ioc.get_executor(), publisher<Ws>(w, p), asio::detached);
    }
  }
};

Engine::Engine(const Options& o) : impl_(std::make_unique<Impl>(o)) {
  auto& e = *impl_;
  error_code ec;
  auto addr = asio::ip::make_address(o.target.host, ec);
  if (ec) {
    asio::io_context ioc;
    tcp::resolver r(ioc);
    auto results = r.resolve(tcp::v4(), o.target.host, std::to_string(o.target.port));
    e.target = *results.begin();
  } else {
    e.target = tcp::endpoint(addr, o.target.port);
  }
  e.host_header = o.target.host + ":" + std::to_string(o.target.port);
  for (int k = 0; k < o.sources; ++k) e.sources.push_back(asio::ip::address_v4(0x7f000001u + static_cast<unsigned>(k)));
  if (!e.target.address().is_loopback()) e.sources = {asio::ip::address_v4::any()};
  if (o.target.tls) {
    if (o.ca_file.empty()) {
      e.ssl_ctx.set_verify_mode(asio::ssl::verify_none);
    } else {
      e.ssl_ctx.load_verify_file(o.ca_file);
      e.ssl_ctx.set_verify_mode(asio::ssl::verify_peer);
    }
  }
  e.token_exp = static_cast<std::int64_t>(std::time(nullptr)) + 3600;
  for (int t = 0; t < o.threads; ++t) e.workers.push_back(std::make_unique<Worker>(t));
}

Engine::~Engine() {
  stop();
}

void Engine::start() {
  auto& e = *impl_;
  if (e.o.target.tls)
    e.spawn_all<TlsWs>();
  else
    e.spawn_all<PlainWs>();
  for (auto& w : e.workers) {
    Worker* wp = w.get();
    wp->thread = std::thread([wp] {
      auto guard = asio::make_work_guard(wp->ioc);
      wp->ioc.run();
    });
  }
}

SetupProgress Engine::setup_progress() const {
  auto& e = *impl_;
  return SetupProgress{e.established.load(), e.subscribed.load(),       e.failed.load(),
                       e.late.load(),        e.publishers_ready.load(), e.publishers_failed.load()};
}

void Engine::start_publishing() {
  impl_->publishing.store(true);
}

RunProgress Engine::run_progress() const {
  auto& e = *impl_;
  RunProgress r;
  r.published = e.published.load();
  r.publish_acks = e.publish_acks.load();
  r.publish_errors = e.publish_errors.load();
  r.delivered = e.delivered_total();
  r.disconnects = e.disconnects.load();
  r.publishers_done = e.publishers_done.load();
  r.first_publish_ns = e.first_publish_ns.load();
  r.last_publish_ns = e.last_publish_ns.load();
  return r;
}

void Engine::stop() {
  auto& e = *impl_;
  e.stopping.store(true);
  for (auto& w : e.workers) w->ioc.stop();
  for (auto& w : e.workers)
    if (w->thread.joinable()) w->thread.join();
}

Totals Engine::totals() const {
  auto& e = *impl_;
  Totals t;
  for (const auto& w : e.workers) {
    t.latency.merge(w->stats.latency);
    t.delivered += w->stats.delivered.load();
    t.without_time += w->stats.without_time;
    t.out_of_order += w->stats.out_of_order;
    t.gaps += w->stats.gaps;
    t.frames += w->stats.frames;
    t.last_delivery_ns = std::max(t.last_delivery_ns, w->stats.last_delivery_ns);
  }
  std::lock_guard lock(e.errors_mu);
  t.errors = e.errors;
  return t;
}

}  // namespace fanout
