// Opaque Gloo declarations: see gloo-opaque/gloo/README.md (nothing from this header is used).
#pragma once
