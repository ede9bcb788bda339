#include "transfer/progress.hpp"

#include <fmt/format.h>
#include <sys/stat.h>

namespace zcnet::detail {

Result<std::uint64_t> file_source_length(const FileRange& f) {
  if (f.length) return *f.length;
  struct stat st {};
  if (::fstat(f.fd, &st) != 0) return last_error("fstat", describe_fd(f.fd));
  const auto size = static_cast<std::uint64_t>(st.st_size);
  return f.offset < size ? size - f.offset : 0;
}

Result<std::optional<std::uint64_t>> resolve_limit(const Source& src, const StrategyContext& ctx) {
  if (ctx.limit) return ctx.limit;
  if (const auto* m = std::get_if<Memory>(&src))
    return std::optional<std::uint64_t>(m->bytes.size());
  const auto* f = std::get_if<FileRange>(&src);
  if (!f) return std::optional<std::uint64_t>{};
  auto len = file_source_length(*f);
  if (!len) return std::move(len).error();
  return std::optional<std::uint64_t>(*len);
}

std::string describe_pair(const Source& src, const Sink& dst) {
  std::string from = kind_of(src) == EndpointKind::Memory
                         ? fmt::format("memory ({} B)", std::get<Memory>(src).bytes.size())
                         : describe_fd(fd_of(src));
  return from + " -> " + describe_fd(fd_of(dst));
}

Error source_ended(std::string_view op, const Source& src, const Sink& dst, std::uint64_t got,
                   std::uint64_t limit) {
  return Error(ENODATA, op,
               fmt::format("source ended after {} of {} B (truncated?): {}", got, limit,
                           describe_pair(src, dst)));
}

std::optional<std::uint64_t> sink_offset(const Sink& dst, std::uint64_t delivered) noexcept {
  if (const auto* f = std::get_if<FileRange>(&dst)) return f->offset + delivered;
  return std::nullopt;
}

const char* write_sink_op(const Sink& dst) noexcept {
  switch (kind_of(dst)) {
    case EndpointKind::File:
      return "pwrite";
    case EndpointKind::Socket:
      return "send";
    default:
      return "write";
  }
}

sys::IoResult write_sink(const Sink& dst, std::uint64_t delivered, const std::byte* buf,
                         std::size_t len, Stats& stats) noexcept {
  ++stats.syscalls;
  switch (kind_of(dst)) {
    case EndpointKind::File:
      return sys::pwrite(fd_of(dst), buf, len, *sink_offset(dst, delivered));
    case EndpointKind::Socket:
      return sys::send(fd_of(dst), buf, len);
    default:
      return sys::write(fd_of(dst), buf, len);
  }
}

}  // namespace zcnet::detail
