// Uses the installed library as a user would: the engine moves a file into a socket, the loop
// reads it back, and the bytes are compared. Prints "ok <bytes> <strategy>" and exits 0 on
// success.
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "zcnet/loop/loop.hpp"
#include "zcnet/sys/capabilities.hpp"
#include "zcnet/sys/fd.hpp"
#include "zcnet/transfer/transfer.hpp"
#include "zcnet/version.hpp"

int main() {
  char path[] = "/tmp/zcnet-consumer-XXXXXX";
  zcnet::UniqueFd file(::mkstemp(path));
  if (!file) return std::perror("mkstemp"), 1;
  ::unlink(path);
  std::string bytes(100000, '\0');
  for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>(i * 131 + 7);
  if (::write(file.get(), bytes.data(), bytes.size()) != static_cast<ssize_t>(bytes.size()))
    return std::perror("write"), 1;

  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) return std::perror("socketpair"), 1;
  zcnet::UniqueFd tx(sv[0]), rx(sv[1]);
  std::string got;
  std::vector<char> buf(1 << 16);
  zcnet::Engine engine;
  zcnet::Transfer t(engine, zcnet::FileRange{file.get(), 0, bytes.size()}, zcnet::Socket{tx.get()});
  while (!t.done()) {
    zcnet::Outcome out = t.step();
    if (out.error) return std::fprintf(stderr, "%s\n", out.error->message().c_str()), 1;
    for (ssize_t n; got.size() < bytes.size() &&
                    (n = ::recv(rx.get(), buf.data(), buf.size(), MSG_DONTWAIT)) > 0;)
      got.append(buf.data(), static_cast<std::size_t>(n));
  }
  for (ssize_t n;
       got.size() < bytes.size() && (n = ::recv(rx.get(), buf.data(), buf.size(), 0)) > 0;)
    got.append(buf.data(), static_cast<std::size_t>(n));
  if (got != bytes) return std::fprintf(stderr, "bytes differ\n"), 1;

  auto loop = zcnet::Loop::create();
  if (!loop) return std::fprintf(stderr, "%s\n", loop.error().message().c_str()), 1;
  std::printf("ok %zu %s zcnet %s kernel %s\n", got.size(),
              std::string(zcnet::to_string(t.choice().strategy)).c_str(), ZCNET_VERSION,
              zcnet::Capabilities::probe().kernel.c_str());
  return 0;
}
