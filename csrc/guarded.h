// Error passing across the C interfaces of csrc/: a C++ exception becomes a message in `*err`
// (malloc'ed; freed by the Rust side, src/ffi.rs) and a non-zero return, never an
// abort.
#pragma once

#include <c10/util/Exception.h>

#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>

namespace adain_c {

inline char* copy_str(const std::string& s) {
  char* out = static_cast<char*>(std::malloc(s.size() + 1));
  if (out != nullptr) {
    std::memcpy(out, s.c_str(), s.size() + 1);
  }
  return out;
}

// Runs `f`, turning an exception into a message in `*err` and a non-zero return.
template <typename F>
int guarded(char** err, F&& f) {
  try {
    f();
    return 0;
  } catch (const c10::Error& e) {
    *err = copy_str(e.what_without_backtrace());
  } catch (const std::exception& e) {
    *err = copy_str(e.what());
  } catch (...) {
    *err = copy_str("unknown C++ exception");
  }
  return 1;
}

}  // namespace adain_c
