// zcnet: move bytes between files, sockets and pipes with the fewest copies the kernel allows.
#include <fmt/format.h>

#include "commands.hpp"
#include "zcnet/sys/sigpipe.hpp"
#include "zcnet/version.hpp"

int main(int argc, char** argv) {
  // A peer that resets must surface as EPIPE from the syscall, never as a fatal signal.
  // (The engine is told too, so sendfile and splice skip their per-step SIGPIPE mask.)
  zcnet::ignore_sigpipe_process_wide();
  CLI::App app{"zcnet: zero-copy network I/O. Run `zcnet COMMAND --help` for a command's options."};
  app.set_version_flag("--version", std::string("zcnet ") + ZCNET_VERSION);
  app.require_subcommand(0, 1);  // none: the help below, not CLI11's one-line error
  zcnet::cli::add_send(app);
  zcnet::cli::add_recv(app);
  zcnet::cli::add_serve(app);
  zcnet::cli::add_proxy(app);
  zcnet::cli::add_doctor(app);
  zcnet::cli::add_bench(app);
  zcnet::cli::add_load(app);
  zcnet::cli::add_load_server(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const std::exception& e) {
    fmt::print(stderr, "zcnet: {}\n", e.what());
    return 1;
  }
  if (app.get_subcommands().empty()) {
    fmt::print(stderr, "{}zcnet: no command given; name one of the commands above\n", app.help());
    return static_cast<int>(CLI::ExitCodes::RequiredError);
  }
  return 0;
}
