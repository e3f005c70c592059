// Opaque Gloo declarations: see gloo-opaque/gloo/README.md.
#pragma once
#include <chrono>

namespace gloo {
// Named by ProcessGroupGloo's inline setTimeout (never called by the shim).
class Context {
 public:
  void setTimeout(std::chrono::milliseconds timeout);
};
} // namespace gloo
