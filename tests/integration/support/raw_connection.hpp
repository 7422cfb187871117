// A raw TCP connection for tests that must send what a well-behaved HTTP client never
// would: truncated or trickled requests, oversized heads, invalid bytes in the request
// line. Blocking socket with a receive timeout; SIGPIPE is never raised.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace waybill::itest {

/// An HTTP/1.1 response as read off the wire (head parsed, body by Content-Length).
struct RawResponse {
  int status = 0;          // 0 when no complete status line arrived
  std::string head, body;  // head without the blank line
  bool closed = false;     // the server closed (FIN or RST) before or after answering
  /// Value of a header (case-insensitive name), empty when absent.
  std::string header(std::string_view name) const;
};

class RawConnection {
 public:
  RawConnection() = default;
  ~RawConnection();
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  /// Connects to host:port; false on failure.
  bool connect(const std::string& host, uint16_t port);
  bool is_open() const { return fd_ >= 0; }
  /// Sends everything; false when the peer is gone.
  bool send(std::string_view bytes);
  /// Half-closes: the server sees end of stream after what was sent.
  void shutdown_write();
  /// Reads one response: the head, then Content-Length bytes of body; stops early when
  /// the server closes or `timeout` passes.
  RawResponse read_response(std::chrono::milliseconds timeout);
  /// Waits until the server closes the connection; true if it did within `timeout`.
  /// Whatever arrives meanwhile is discarded.
  bool wait_closed(std::chrono::milliseconds timeout);
  void close();

 private:
  // Receives into `buffer_` with at most `timeout`; 0: closed, -1: timeout, >0: bytes.
  long receive(std::chrono::milliseconds timeout);

  int fd_ = -1;
  std::string buffer_;
};

}  // namespace waybill::itest
