#include <array>
#include <utility>

#include "transfer/strategies.hpp"
#include "zcnet/transfer/endpoint.hpp"
#include "zcnet/transfer/strategy.hpp"

namespace zcnet {

namespace {
constexpr std::array<std::pair<StrategyKind, std::string_view>, 10> kNames{{
    {StrategyKind::ReadWrite, "read-write"},
    {StrategyKind::Mmap, "mmap"},
    {StrategyKind::Sendfile, "sendfile"},
    {StrategyKind::Splice, "splice"},
    {StrategyKind::Tee, "tee"},
    {StrategyKind::MsgZerocopy, "msg-zerocopy"},
    {StrategyKind::UringSend, "uring-send"},
    {StrategyKind::UringSendZc, "uring-send-zc"},
    {StrategyKind::UringSplice, "uring-splice"},
    {StrategyKind::Auto, "auto"},
}};
}  // namespace

std::string_view to_string(StrategyKind k) noexcept {
  for (const auto& [kind, name] : kNames)
    if (kind == k) return name;
  return "?";
}

std::optional<StrategyKind> parse_strategy(std::string_view name) noexcept {
  for (const auto& [kind, n] : kNames)
    if (n == name) return kind;
  return std::nullopt;
}

const char* to_string(EndpointKind k) noexcept {
  switch (k) {
    case EndpointKind::File:
      return "file";
    case EndpointKind::Socket:
      return "socket";
    case EndpointKind::Pipe:
      return "pipe";
    case EndpointKind::Memory:
      return "memory";
  }
  return "?";
}

Error detail::unsupported_pair(StrategyKind k, const Source& src, const Sink& dst) {
  std::string context(to_string(k));
  context += " cannot move ";
  context += to_string(kind_of(src));
  context += " -> ";
  context += to_string(kind_of(dst));
  return Error(EOPNOTSUPP, "select", std::move(context));
}

}  // namespace zcnet
