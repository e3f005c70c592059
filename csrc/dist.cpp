// A thin C interface to libtorch's own torch.distributed process groups (c10d), for
// src/dist/: a TCP store for the rendezvous, a Gloo (CPU) or NCCL (CUDA) backend, and the
// three collectives data-parallel training needs (all-reduce, broadcast, barrier).
//
// Every entry point catches C++ exceptions and returns them as a message in `*err` (freed by the
// Rust side, src/ffi.rs), so that a failed peer or a timeout becomes a Rust error, never an
// abort. Tensors arrive as the `at::Tensor*` handles that tch's `Tensor::as_mut_ptr` gives.

#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#ifdef ADAIN_WITH_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include "guarded.h"

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

struct Group {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::Backend> backend;
  std::chrono::milliseconds timeout;
  bool average_natively;
};

using adain_c::copy_str;
using adain_c::guarded;

bool is_loopback(const std::string& host) {
  return host == "localhost" || host.rfind("127.", 0) == 0 || host == "::1";
}

// The Gloo transport device: the interfaces in GLOO_SOCKET_IFNAME when set (as torch does),
// loopback when the store is on this machine, otherwise the address this host's name resolves
// to.
std::vector<std::shared_ptr<gloo::transport::Device>> gloo_devices(const std::string& host) {
  std::vector<std::shared_ptr<gloo::transport::Device>> devices;
  const char* ifname = std::getenv("GLOO_SOCKET_IFNAME");
  if (ifname != nullptr && std::strlen(ifname) > 0) {
    std::string list(ifname);
    size_t start = 0;
    while (start <= list.size()) {
      size_t end = list.find(',', start);
      if (end == std::string::npos) {
        end = list.size();
      }
      if (end > start) {
        devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(list.substr(start, end - start)));
      }
      start = end + 1;
    }
  } else if (is_loopback(host)) {
    devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
  } else {
    devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
  }
  return devices;
}

std::vector<at::Tensor> tensors_of(at::Tensor** ts, size_t n) {
  std::vector<at::Tensor> out;
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    out.push_back(*ts[i]);
  }
  return out;
}

// Starts one collective per tensor (the backend pipelines them), then waits for all.
template <typename Start>
void each_then_wait(Group* g, at::Tensor** ts, size_t n, Start&& start) {
  std::vector<c10::intrusive_ptr<c10d::Work>> works;
  works.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    std::vector<at::Tensor> one{*ts[i]};
    works.push_back(start(one));
  }
  for (auto& w : works) {
    w->wait(g->timeout);
  }
}

} // namespace

extern "C" {

// Whether this build can make NCCL groups (CUDA tensors).
int adain_dist_has_nccl() {
#ifdef ADAIN_WITH_NCCL
  return 1;
#else
  return 0;
#endif
}

// Joins (rank 0: hosts) the TCP store at host:port and creates the process group of `world`
// ranks. backend: "gloo" or "nccl". Returns NULL with *err set on failure (a peer that does
// not arrive within `timeout_ms` included).
void* adain_dist_new(
    const char* backend,
    const char* host,
    int port,
    int rank,
    int world,
    int64_t timeout_ms,
    char** err) {
  Group* out = nullptr;
  guarded(err, [&] {
    auto timeout = std::chrono::milliseconds(timeout_ms);
    c10d::TCPStoreOptions opts;
    opts.port = static_cast<uint16_t>(port);
    opts.isServer = rank == 0;
    opts.numWorkers = world;
    opts.waitWorkers = true;
    opts.timeout = timeout;
    auto store = c10::make_intrusive<c10d::TCPStore>(std::string(host), opts);
    std::string which(backend);
    c10::intrusive_ptr<c10d::Backend> pg;
    bool average_natively = false;
    if (which == "gloo") {
      auto o = c10d::ProcessGroupGloo::Options::create(timeout);
      o->devices = gloo_devices(host);
      o->threads = 2;
      pg = c10::make_intrusive<c10d::ProcessGroupGloo>(store, rank, world, o);
    } else if (which == "nccl") {
#ifdef ADAIN_WITH_NCCL
      auto o = c10d::ProcessGroupNCCL::Options::create();
      o->timeout = timeout;
      pg = c10::make_intrusive<c10d::ProcessGroupNCCL>(store, rank, world, o);
      average_natively = true;
#else
      throw std::runtime_error("this adain was built without NCCL (no nccl.h next to libtorch); use the gloo backend");
#endif
    } else {
      throw std::runtime_error("unknown backend '" + which + "' (gloo or nccl)");
    }
    out = new Group{store, pg, timeout, average_natively};
  });
  return out;
}

// Sums (average != 0: averages) each tensor over the ranks, in place.
int adain_dist_all_reduce(void* group, at::Tensor** ts, size_t n, int average, char** err) {
  auto* g = static_cast<Group*>(group);
  return guarded(err, [&] {
    c10d::AllreduceOptions o;
    o.reduceOp = c10d::ReduceOp(average && g->average_natively ? c10d::ReduceOp::AVG : c10d::ReduceOp::SUM);
    o.timeout = g->timeout;
    each_then_wait(g, ts, n, [&](std::vector<at::Tensor>& one) { return g->backend->allreduce(one, o); });
    if (average && !g->average_natively) {
      // Gloo has no AVG: sum, then divide (no rounding for a power-of-two world).
      for (auto& t : tensors_of(ts, n)) {
        t.div_(g->backend->getSize());
      }
    }
  });
}

// Copies each tensor of rank `root` into the same tensor of every other rank.
int adain_dist_broadcast(void* group, at::Tensor** ts, size_t n, int root, char** err) {
  auto* g = static_cast<Group*>(group);
  return guarded(err, [&] {
    c10d::BroadcastOptions o;
    o.rootRank = root;
    o.timeout = g->timeout;
    each_then_wait(g, ts, n, [&](std::vector<at::Tensor>& one) { return g->backend->broadcast(one, o); });
  });
}

// Waits until every rank has arrived.
int adain_dist_barrier(void* group, char** err) {
  auto* g = static_cast<Group*>(group);
  return guarded(err, [&] {
    c10d::BarrierOptions o;
    o.timeout = g->timeout;
    g->backend->barrier(o)->wait(g->timeout);
  });
}

// Tears the group down (its threads are joined, its connections closed).
void adain_dist_free(void* group) {
  char* err = nullptr;
  guarded(&err, [&] { delete static_cast<Group*>(group); });
  std::free(err);
}

} // extern "C"
