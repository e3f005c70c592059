// Opaque Gloo declarations: see gloo-opaque/gloo/README.md.
#pragma once

namespace gloo {
namespace transport {
class Device;
class UnboundBuffer;
} // namespace transport
} // namespace gloo
