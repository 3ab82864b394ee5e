// A TLS stream for many mostly idle connections. Asio's ssl::stream keeps four 17 KiB
// buffers per connection for its whole life (some 70 KiB); this one feeds OpenSSL
// through memory BIOs that are given back when empty, reads ciphertext into a small
// buffer held only while a read waits, and encrypts a write into as few records as fit
// (one socket write per write_some). With SSL_MODE_RELEASE_BUFFERS an idle connection
// holds the SSL object and little else. It models Asio's AsyncStream, so Beast's HTTP
// and WebSocket code runs over it unchanged.
//
// Post-handshake output a read produces (a TLS 1.3 KeyUpdate answer) waits in the
// write BIO for the next write; the server sends no session tickets.
#pragma once

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <boost/asio/compose.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/buffers_prefix.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/websocket/teardown.hpp>
#include <cstring>
#include <memory>
#include <stdexcept>

namespace herald::net::detail {

template <class NextLayer>
class TlsStream {
 public:
  using next_layer_type = NextLayer;
  using executor_type = typename NextLayer::executor_type;

  TlsStream(NextLayer&& next, SSL_CTX* ctx) : next_(std::move(next)), ssl_(SSL_new(ctx)) {
    if (!ssl_) throw std::runtime_error("SSL_new failed");
    SSL_set_accept_state(ssl_);
    install_bios(true, true);
  }
  // Takes over another stream's TLS session (after an HTTP upgrade) with a new next layer.
  template <class Other>
  TlsStream(TlsStream<Other>&& other, NextLayer&& next) : next_(std::move(next)), ssl_(other.release_ssl()) {}
  TlsStream(TlsStream&& o) noexcept : next_(std::move(o.next_)), ssl_(o.ssl_) { o.ssl_ = nullptr; }
  TlsStream& operator=(TlsStream&&) = delete;
  TlsStream(const TlsStream&) = delete;
  ~TlsStream() {
    if (ssl_) SSL_free(ssl_);
  }

  executor_type get_executor() noexcept { return next_.get_executor(); }
  NextLayer& next_layer() noexcept { return next_; }
  const NextLayer& next_layer() const noexcept { return next_; }
  SSL* native_handle() noexcept { return ssl_; }
  SSL* release_ssl() noexcept {
    SSL* s = ssl_;
    ssl_ = nullptr;
    return s;
  }

  template <class MutableBuffers, class Token>
  auto async_read_some(const MutableBuffers& buffers, Token&& token) {
    return boost::asio::async_compose<Token, void(boost::system::error_code, std::size_t)>(
        ReadOp<MutableBuffers>{*this, buffers}, token, next_);
  }

  template <class ConstBuffers, class Token>
  auto async_write_some(const ConstBuffers& buffers, Token&& token) {
    return boost::asio::async_compose<Token, void(boost::system::error_code, std::size_t)>(
        WriteOp<ConstBuffers>{*this, buffers}, token, next_);
  }

  template <class Token>
  auto async_handshake(Token&& token) {
    return boost::asio::async_compose<Token, void(boost::system::error_code)>(HandshakeOp{*this}, token, next_);
  }

  // Sends close_notify; does not wait for the peer's (many clients never send one).
  template <class Token>
  auto async_shutdown(Token&& token) {
    return boost::asio::async_compose<Token, void(boost::system::error_code)>(ShutdownOp{*this}, token, next_);
  }

 private:
  template <class>
  friend class TlsStream;

  static constexpr std::size_t kReadChunk = 4096;         // ciphertext per socket read
  static constexpr std::size_t kMaxWrite = 64 * 1024;     // plaintext per write_some
  static constexpr std::size_t kKeepBioBytes = 8 * 1024;  // memory BIOs above this are replaced when empty

  // Fresh memory BIOs; an empty read BIO asks for more rather than reporting EOF.
  void install_bios(bool read, bool write) {
    if (read) {
      BIO* r = BIO_new(BIO_s_mem());
      BIO_set_mem_eof_return(r, -1);
      SSL_set0_rbio(ssl_, r);
    }
    if (write) SSL_set0_wbio(ssl_, BIO_new(BIO_s_mem()));
  }

  // Gives back BIO memory that grew with a burst, once it is drained.
  void trim() {
    BUF_MEM* m = nullptr;
    BIO* r = SSL_get_rbio(ssl_);
    BIO_get_mem_ptr(r, &m);
    bool read_big = m && BIO_pending(r) == 0 && m->max > kKeepBioBytes;
    BIO* w = SSL_get_wbio(ssl_);
    BIO_get_mem_ptr(w, &m);
    bool write_big = m && BIO_pending(w) == 0 && m->max > kKeepBioBytes;
    if (read_big || write_big) install_bios(read_big, write_big);
  }

  // Moves what OpenSSL wrote into `out`.
  void take_output(std::string& out) {
    BIO* w = SSL_get_wbio(ssl_);
    int pending = BIO_pending(w);
    if (pending <= 0) return;
    std::size_t at = out.size();
    out.resize(at + static_cast<std::size_t>(pending));
    int n = BIO_read(w, out.data() + at, pending);
    out.resize(at + static_cast<std::size_t>(n > 0 ? n : 0));
  }

  boost::system::error_code ssl_error() {
    unsigned long e = ERR_get_error();
    ERR_clear_error();
    if (e == 0) return boost::asio::error::connection_reset;
    return boost::system::error_code(static_cast<int>(e), boost::asio::error::get_ssl_category());
  }

  // An operation that finishes before it waited on anything completes through a post:
  // a handler must not run inside the call that started the operation.
  struct Deferral {
    bool waited = false;
    bool posted = false;
    boost::system::error_code ec;
    std::size_t n = 0;
    template <class Self>
    void complete(Self& self, TlsStream& s, boost::system::error_code e, std::size_t bytes) {
      if (waited) return self.complete(e, bytes);
      ec = e;
      n = bytes;
      posted = true;
      waited = true;
      boost::asio::post(s.get_executor(), std::move(self));
    }
  };

  template <class Buffers>
  struct ReadOp {
    TlsStream& s;
    Buffers buffers;
    std::unique_ptr<char[]> chunk;
    bool reading = false;
    Deferral d;

    template <class Self>
    void operator()(Self& self, boost::system::error_code ec = {}, std::size_t n = 0) {
      if (d.posted) return self.complete(d.ec, d.n);
      if (reading) {
        reading = false;
        if (ec) return self.complete(ec, 0);
        BIO_write(SSL_get_rbio(s.ssl_), chunk.get(), static_cast<int>(n));
      }
      auto b = boost::beast::buffers_front(buffers);
      if (b.size() == 0) return d.complete(self, s, {}, 0);
      int r = SSL_read(s.ssl_, b.data(), static_cast<int>(std::min<std::size_t>(b.size(), INT_MAX)));
      if (r > 0) {
        chunk.reset();
        s.trim();
        return d.complete(self, s, {}, static_cast<std::size_t>(r));
      }
      int err = SSL_get_error(s.ssl_, r);
      if (err == SSL_ERROR_WANT_READ) {
        if (!chunk) chunk.reset(new char[kReadChunk]);
        reading = true;
        d.waited = true;
        return s.next_.async_read_some(boost::asio::buffer(chunk.get(), kReadChunk), std::move(self));
      }
      if (err == SSL_ERROR_ZERO_RETURN) return d.complete(self, s, boost::asio::error::eof, 0);
      if (err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)  // the peer closed without close_notify
        return d.complete(self, s, boost::asio::ssl::error::stream_truncated, 0);
      return d.complete(self, s, s.ssl_error(), 0);
    }
  };

  template <class Buffers>
  struct WriteOp {
    TlsStream& s;
    Buffers buffers;
    std::string out;
    std::size_t consumed = 0;
    bool writing = false;
    Deferral d;

    template <class Self>
    void operator()(Self& self, boost::system::error_code ec = {}, std::size_t = 0) {
      if (d.posted) return self.complete(d.ec, d.n);
      if (writing) {
        out.clear();
        s.trim();
        if (ec) return self.complete(ec, 0);
        return self.complete({}, consumed);
      }
      // Gather up to kMaxWrite plaintext bytes so that one SSL_write makes whole
      // records of all of it (a WebSocket frame header and its payload together).
      std::size_t total = std::min(boost::asio::buffer_size(buffers), kMaxWrite);
      if (total == 0) return d.complete(self, s, {}, 0);
      std::unique_ptr<char[]> plain(new char[total]);
      boost::asio::buffer_copy(boost::asio::buffer(plain.get(), total), buffers);
      int r = SSL_write(s.ssl_, plain.get(), static_cast<int>(total));
      OPENSSL_cleanse(plain.get(), total);
      if (r <= 0) return d.complete(self, s, s.ssl_error(), 0);
      consumed = static_cast<std::size_t>(r);
      s.take_output(out);
      writing = true;
      boost::asio::async_write(s.next_, boost::asio::buffer(out), std::move(self));
    }
  };

  struct HandshakeOp {
    TlsStream& s;
    std::string out;
    std::unique_ptr<char[]> chunk;
    int state = 0;  // 0 run, 1 after a write, 2 after a read

    template <class Self>
    void operator()(Self& self, boost::system::error_code ec = {}, std::size_t n = 0) {
      if (state != 0) {
        if (ec) return self.complete(ec);
        if (state == 1) out.clear();
        if (state == 2) BIO_write(SSL_get_rbio(s.ssl_), chunk.get(), static_cast<int>(n));
        state = 0;
      }
      for (;;) {
        int r = SSL_do_handshake(s.ssl_);
        s.take_output(out);
        if (!out.empty()) {  // send what we have before reading or finishing
          state = 1;
          return boost::asio::async_write(s.next_, boost::asio::buffer(out), std::move(self));
        }
        if (r == 1) {
          chunk.reset();
          s.trim();
          return self.complete({});
        }
        int err = SSL_get_error(s.ssl_, r);
        if (err != SSL_ERROR_WANT_READ) return self.complete(s.ssl_error());
        if (!chunk) chunk.reset(new char[kReadChunk]);
        state = 2;
        return s.next_.async_read_some(boost::asio::buffer(chunk.get(), kReadChunk), std::move(self));
      }
    }
  };

  struct ShutdownOp {
    TlsStream& s;
    std::string out;
    bool writing = false;

    bool posted = false;

    template <class Self>
    void operator()(Self& self, boost::system::error_code ec = {}, std::size_t = 0) {
      if (writing || posted) return self.complete(ec);
      SSL_shutdown(s.ssl_);
      ERR_clear_error();
      s.take_output(out);
      if (out.empty()) {
        posted = true;
        return boost::asio::post(s.get_executor(), std::move(self));
      }
      writing = true;
      boost::asio::async_write(s.next_, boost::asio::buffer(out), std::move(self));
    }
  };

  NextLayer next_;
  SSL* ssl_ = nullptr;
};

// WebSocket teardown for Beast: close_notify, then close the socket.
template <class NextLayer>
void teardown(boost::beast::role_type, TlsStream<NextLayer>& stream, boost::system::error_code& ec) {
  SSL_shutdown(stream.native_handle());
  ERR_clear_error();
  boost::beast::get_lowest_layer(stream).close(ec);
}

template <class NextLayer, class Handler>
void async_teardown(boost::beast::role_type, TlsStream<NextLayer>& stream, Handler&& handler) {
  stream.async_shutdown([&stream, h = std::forward<Handler>(handler)](boost::system::error_code) mutable {
    boost::system::error_code ec;
    boost::beast::get_lowest_layer(stream).close(ec);
    std::move(h)(ec);
  });
}

}  // namespace herald::net::detail
