// The check every fuzz target makes: a broken invariant aborts with a message, which libFuzzer
// reports as a crash and saves the input for (and the corpus replay test reports as a failure).
#pragma once

#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(cond, what)                                           \
  do {                                                                   \
    if (!(cond)) {                                                       \
      std::fprintf(stderr, "fuzz check failed: %s (%s)\n", #cond, what); \
      std::abort();                                                      \
    }                                                                    \
  } while (0)
