#include "raw_connection.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>

namespace waybill::itest {

using Clock = std::chrono::steady_clock;

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

std::string RawResponse::header(std::string_view name) const {
  const std::string want = lower(name) + ":";
  size_t pos = head.find("\r\n");
  while (pos != std::string::npos) {
    size_t start = pos + 2, end = head.find("\r\n", start);
    std::string line = head.substr(start, end == std::string::npos ? std::string::npos : end - start);
    if (lower(line.substr(0, want.size())) == want) {
      std::string v = line.substr(want.size());
      v.erase(0, v.find_first_not_of(' '));
      return v;
    }
    pos = end;
  }
  return {};
}

RawConnection::~RawConnection() { close(); }

bool RawConnection::connect(const std::string& host, uint16_t port) {
  close();
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  if (::inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1 ||
      ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close();
    return false;
  }
  int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return true;
}

bool RawConnection::send(std::string_view bytes) {
  while (!bytes.empty() && fd_ >= 0) {
    ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return fd_ >= 0;
}

void RawConnection::shutdown_write() {
  if (fd_ >= 0) ::shutdown(fd_, SHUT_WR);
}

long RawConnection::receive(std::chrono::milliseconds timeout) {
  if (fd_ < 0) return 0;
  pollfd p{fd_, POLLIN, 0};
  int r = ::poll(&p, 1, static_cast<int>(std::max<int64_t>(0, timeout.count())));
  if (r == 0) return -1;
  if (r < 0) return errno == EINTR ? -1 : 0;
  char buf[16384];
  ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
  if (n <= 0) return n < 0 && errno == EINTR ? -1 : 0;  // FIN, or RST (ECONNRESET)
  buffer_.append(buf, static_cast<size_t>(n));
  return n;
}

RawResponse RawConnection::read_response(std::chrono::milliseconds timeout) {
  RawResponse out;
  const auto deadline = Clock::now() + timeout;
  size_t head_end = std::string::npos;
  size_t want = std::string::npos;
  for (;;) {
    if (head_end == std::string::npos && (head_end = buffer_.find("\r\n\r\n")) != std::string::npos) {
      out.head = buffer_.substr(0, head_end);
      if (out.head.rfind("HTTP/1.", 0) == 0 && out.head.size() >= 12) out.status = std::atoi(out.head.c_str() + 9);
      auto cl = out.header("Content-Length");
      want = cl.empty() ? 0 : static_cast<size_t>(std::strtoull(cl.c_str(), nullptr, 10));
    }
    if (head_end != std::string::npos && buffer_.size() >= head_end + 4 + want) {
      out.body = buffer_.substr(head_end + 4, want);
      buffer_.erase(0, head_end + 4 + want);
      return out;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return out;
    long n = receive(left);
    if (n == 0) {
      out.closed = true;
      if (head_end != std::string::npos) out.body = buffer_.substr(head_end + 4);
      return out;
    }
  }
}

bool RawConnection::wait_closed(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return false;
    buffer_.clear();
    if (receive(left) == 0) return true;
  }
}

void RawConnection::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  buffer_.clear();
}

}  // namespace waybill::itest
