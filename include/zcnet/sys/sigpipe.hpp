// Process-wide SIGPIPE handling for programs that own their signal dispositions.
#pragma once

namespace zcnet {

// Sets SIGPIPE to SIG_IGN for the whole process and tells the engine: sendfile, splice, tee and
// writes into pipes then skip the per-step SIGPIPE mask they otherwise hold (two or three
// syscalls a step), since an ignored SIGPIPE can neither kill nor interrupt. For programs that own
// their signal dispositions (the zcnet command does); a program that later gives SIGPIPE a
// handler or SIG_DFL again must not call it. Returns false (and changes nothing) if sigaction
// fails.
bool ignore_sigpipe_process_wide() noexcept;

}  // namespace zcnet
