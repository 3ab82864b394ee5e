// The WebSocket session: carries the client protocol (push::Client) over a Beast
// stream. Outgoing JSON lines are appended to one contiguous buffer and written as one
// text frame per write, so that a burst of publications costs one system call per
// connection rather than one per message; what arrives while a write is under way
// goes out with the next one. The queue (the frame being written and the lines waiting
// for the next) is what push::Client bounds by push.send_queue_max_bytes; above half of
// it the session stops reading commands until a write completes, and a write that does
// not complete within push.write_timeout cuts the connection. Included only by
// ws_session_plain.cpp and ws_session_tls.cpp, one instantiation each.
#pragma once

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <chrono>
#include <optional>
#include <type_traits>

#include "core/ids.h"
#include "core/log.h"
#include "net/detail/disconnect.h"
#include "net/detail/ws_session.h"
#include "push/client.h"

namespace herald::net::detail {
namespace ws_impl {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using boost::system::error_code;
using Clock = std::chrono::steady_clock;

template <class Stream>
class WsSession final : public SessionBase,
                        public DeadlineTarget,
                        public push::Transport,
                        public std::enable_shared_from_this<WsSession<Stream>> {
 public:
  // A peer that takes neither our data nor our close frame within this time is cut off.
  static constexpr auto kCloseGrace = std::chrono::seconds(2);
  // Write buffers above this size are given back after use: idle connections stay small.
  static constexpr std::size_t kKeepBufferBytes = 16 * 1024;

  WsSession(GatewayState& st, Worker& w, Stream&& stream, std::shared_ptr<ConnectionCount> count, std::string remote)
      : st_(st),
        w_(w),
        ws_(std::move(stream)),
        count_(std::move(count)),
        remote_(std::move(remote)),
        write_timer_(w.ioc),
        read_gate_(w.ioc) {}

  asio::awaitable<void> run(std::shared_ptr<WsSession> self, http::request<http::string_body> req) {
    SessionRegistration reg(w_, this);
    const auto& lim = st_.cfg.limits;
    websocket::stream_base::timeout t{};
    t.handshake_timeout = lim.handshake_timeout;
    t.idle_timeout = lim.idle_timeout;
    t.keep_alive_pings = true;  // a ping at half the idle timeout; no answer by the end closes
    ws_.set_option(t);
    ws_.read_message_max(lim.max_ws_message_bytes);
    ws_.auto_fragment(false);  // one write, one frame
    ws_.text(true);
    std::string rid = next_request_id();
    ws_.set_option(
        websocket::stream_base::decorator([rid](websocket::response_type& res) { res.set("X-Request-Id", rid); }));
    error_code ec;
    co_await ws_.async_accept(req, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      log::debug("websocket_accept_failed", {{"request_id", rid}, {"error", ec.message()}});
      co_return;
    }
    st_.m.websocket_active->inc();
    open_ = true;
    client_.emplace(*st_.push, *this, w_.index);
    if (st_.draining.load()) on_shutdown();

    beast::flat_buffer buffer;
    while (!ec) {
      co_await wait_for_queue_to_drain();
      co_await ws_.async_read(buffer, asio::redirect_error(asio::use_awaitable, ec));
      if (ec) break;
      auto data = buffer.cdata();
      if (ws_.got_text())
        client_->on_text(std::string_view(static_cast<const char*>(data.data()), data.size()));
      else
        client_->on_binary();
      buffer.consume(buffer.size());
      if (buffer.capacity() > kKeepBufferBytes) buffer.shrink_to_fit();
    }
    open_ = false;
    write_timer_.cancel();
    read_gate_.cancel();
    client_->on_closed();
    st_.m.websocket_active->dec();
    if (!is_expected_close(ec)) log::debug("websocket_closed", {{"request_id", rid}, {"error", ec.message()}});
    (void)self;
  }

  void on_shutdown() override {
    if (!open_ || !client_) return;
    client_->disconnect(push::close_code::kShutdown, "shutdown");
  }

  // push::Transport
  void send(std::string_view line) override {
    if (!pending_.empty()) pending_.push_back('\n');
    pending_.append(line);
  }

  void flush() override {
    if (writing_ || closed_) return;
    if (pending_.empty()) {
      if (close_requested_) start_close();
      return;
    }
    writing_ = true;
    inflight_.swap(pending_);
    arm_write_timeout();
    ws_.async_write(asio::buffer(inflight_),
                    [self = this->shared_from_this()](error_code ec, std::size_t) { self->on_written(ec); });
  }

  // The frame under way counts too: a peer that stops reading holds it in memory as
  // surely as the lines behind it.
  std::size_t queued_bytes() const override { return pending_.size() + inflight_.size(); }

  void discard_queued() override {
    pending_.clear();
    if (pending_.capacity() > kKeepBufferBytes) pending_.shrink_to_fit();
  }

  void close(int code, std::string_view reason) override {
    if (close_requested_) return;
    close_requested_ = true;
    close_code_ = static_cast<std::uint16_t>(code);
    close_reason_ = std::string(reason);
    // The hard stop: a peer that never reads holds neither our write nor the close up.
    w_.schedule(Clock::now() + kCloseGrace, this->weak_from_this(), ++deadline_generation_);
    flush();
  }

  void set_deadline(TimePoint when) override {
    if (close_requested_) return;
    ++deadline_generation_;
    if (when != TimePoint::max()) w_.schedule(when, this->weak_from_this(), deadline_generation_);
  }

  std::string_view remote_address() const override { return remote_; }

  // DeadlineTarget
  void on_deadline(Clock::time_point now, std::uint64_t generation) override {
    if (generation != deadline_generation_) return;
    if (close_requested_) {
      cut();
      return;
    }
    if (client_) client_->on_deadline(now);
  }

 private:
  void on_written(error_code ec) {
    writing_ = false;
    write_timer_.cancel();
    read_gate_.cancel();  // the read loop looks at the queue again
    inflight_.clear();
    if (inflight_.capacity() > kKeepBufferBytes) inflight_.shrink_to_fit();
    if (ec) {
      cut();
      return;
    }
    flush();
  }

  // A peer whose TCP window stays shut never completes a write; without this timer it
  // would hold its queue (and, with the reads paused, its connection) for ever. With
  // the reads paused its queue cannot pass the bound, so this is where such a client
  // is found to be a slow consumer.
  void arm_write_timeout() {
    const auto timeout = st_.cfg.push.write_timeout;
    if (timeout.count() <= 0) return;
    write_timer_.expires_after(timeout);
    write_timer_.async_wait([weak = this->weak_from_this()](error_code ec) {
      if (ec) return;  // cancelled: the write completed
      auto self = weak.lock();
      if (!self || !self->writing_) return;
      log::debug("websocket_write_timeout", {});
      // A slow consumer: its queue is dropped and it gets 4500 if it ever reads again;
      // the close's own grace then cuts a peer that still takes nothing.
      if (self->client_ && self->open_)
        self->client_->on_write_stalled();
      else
        self->cut();
    });
  }

  // Reading pauses while more than half the send-queue bound waits: a client that sends
  // commands and reads no replies is then held by its own TCP window, not our memory.
  asio::awaitable<void> wait_for_queue_to_drain() {
    const std::size_t threshold = st_.cfg.push.send_queue_max_bytes / 2;
    while (!closed_ && queued_bytes() > threshold) {
      if (!writing_) flush();
      read_gate_.expires_at(Clock::time_point::max());
      error_code ec;
      co_await read_gate_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
  }

  void start_close() {
    if (closed_) return;
    closed_ = true;
    ws_.async_close(websocket::close_reason(static_cast<websocket::close_code>(close_code_), close_reason_),
                    [self = this->shared_from_this()](error_code) {});
  }

  // Closes the socket at once; the read loop then ends.
  void cut() {
    closed_ = true;
    write_timer_.cancel();
    read_gate_.cancel();
    error_code ec;
    beast::get_lowest_layer(ws_).close(ec);
  }

  GatewayState& st_;
  Worker& w_;
  websocket::stream<Stream> ws_;
  std::shared_ptr<ConnectionCount> count_;
  std::string remote_;
  std::optional<push::Client> client_;
  asio::steady_timer write_timer_;  // push.write_timeout of the write under way
  asio::steady_timer read_gate_;    // the paused read loop waits on it; a completed write wakes it
  std::string pending_;             // lines for the next frame, separated by '\n'
  std::string inflight_;            // the frame being written
  std::string close_reason_;
  std::uint64_t deadline_generation_ = 0;
  std::uint16_t close_code_ = 1000;
  bool open_ = false;
  bool writing_ = false;
  bool close_requested_ = false;
  bool closed_ = false;
};

template <class Stream>
void spawn_websocket_session(GatewayState& st, Worker& w, Stream&& stream, http::request<http::string_body>&& req,
                             std::shared_ptr<ConnectionCount> count, std::string remote) {
  auto s = std::make_shared<WsSession<Stream>>(st, w, std::move(stream), std::move(count), std::move(remote));
  asio::co_spawn(w.ioc, s->run(s, std::move(req)), [](const std::exception_ptr& e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      log::error("websocket_session_failed", {{"error", ex.what()}});
    }
  });
}

}  // namespace ws_impl

// A WebSocket session runs on the bare socket: the HTTP phase's tcp_stream (with its
// per-operation timeout machinery) is left behind, and Beast's own WebSocket timer
// takes over. TLS sessions keep their OpenSSL state across the change.
template <class Stream>
void start_websocket_session(GatewayState& st, Worker& w, Stream&& stream,
                             boost::beast::http::request<boost::beast::http::string_body>&& req,
                             std::shared_ptr<ConnectionCount> count, std::string remote) {
  if constexpr (std::is_same_v<Stream, HttpTlsStream>) {
    boost::asio::ip::tcp::socket sock = stream.next_layer().release_socket();
    ws_impl::spawn_websocket_session(st, w, WsTlsStream(std::move(stream), std::move(sock)), std::move(req),
                                     std::move(count), std::move(remote));
  } else {
    static_assert(std::is_same_v<Stream, HttpPlainStream>);
    ws_impl::spawn_websocket_session(st, w, stream.release_socket(), std::move(req), std::move(count),
                                     std::move(remote));
  }
}

}  // namespace herald::net::detail
