// cuda_compat.h: the one header every kernel file includes (src/kernels/cuda/README.md).
//
// Under nvcc it is a thin pass-through. Under a host compiler (g++/clang++) it is an emulator
// that runs the same kernels on the CPU, so tests execute real CUDA code on machines without
// a GPU: every block runs on one OS thread (blocks are spread over OpenMP threads) and every
// CUDA thread of a block is a fiber with its own stack, so __syncthreads, warp shuffles and
// votes suspend the calling fiber until its block/warp partners arrive. __shared__ becomes
// thread_local: one copy per OS thread, which runs one block at a time.
//
// The one source change a kernel file makes for it: launches go through
//   TRAINER_CUDA_CHECK(cudaemu::launch(kernel, grid, block, smem, stream, args...));
// because a host compiler cannot parse <<<...>>>. Dynamic shared memory is
// cudaemu::dynamic_smem<T>() (poisoned with NaN for every emulated block).
//
// Emulator switches (environment): CUDAEMU_REVERSE=1 schedules the threads of a block in
// descending order (run tests in both orders: a missing barrier shows up when a thread reads a
// slot that another thread writes later in the schedule); CUDAEMU_STACK_KB sets the fiber stack
// size (64 KiB by default; overflow hits a guard page).
//
// Pitfalls worth knowing (src/kernels/cuda/README.md, "Pitfalls"): static __shared__ keeps
// the previous block's values; shared-memory overflows are not detected; threads that return
// before a __syncthreads count as arrived; __expf/rsqrtf are exact here; no CUB, no inline PTX,
// no grid-wide sync, no __CUDA_ARCH__ branches; do not `using namespace std` in kernel files
// (threadIdx, min and max live in the global namespace). Tensor cores: the nvcuda::wmma subset at
// the end of this file (16x16x16 f16/bf16, 16x16x8 tf32, f32 accumulators).
#pragma once

#include <cstddef>
#include <utility>

#if defined(__CUDACC__)  // ================================ real CUDA: pass-through

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <mma.h>  // nvcuda::wmma (the emulator below defines the subset our kernels use)

namespace trainer::cudaemu {

template <class T>
__device__ __forceinline__ T* dynamic_smem() {
  extern __shared__ __align__(16) unsigned char cudaemu_dynamic_smem_[];
  return reinterpret_cast<T*>(cudaemu_dynamic_smem_);
}

template <class... P, class... A>
inline cudaError_t launch(void (*kernel)(P...), dim3 grid, dim3 block, size_t smem, cudaStream_t stream, A&&... args) {
  kernel<<<grid, block, smem, stream>>>(std::forward<A>(args)...);
  return cudaGetLastError();
}

}  // namespace trainer::cudaemu

#else  // ================================================= emulation on the CPU

// Host-side declarations only (dim3, uint3, float2, cudaStream_t, __half and __nv_bfloat16 with
// their host conversions); the emulated build links no libcudart but cudart_lite.cpp.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <sys/mman.h>
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>  // fiber stacks are registered, so memcheck accepts the stack switches
#endif

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <tuple>
#include <type_traits>
#include <vector>

#undef __shared__
#define __shared__ thread_local  // at block scope this implies static: one instance per OS thread
#undef __launch_bounds__
#define __launch_bounds__(...)  // occupancy hints mean nothing to the emulator

inline thread_local uint3 threadIdx, blockIdx;
inline thread_local dim3 blockDim, gridDim;
inline constexpr int warpSize = 32;

#if defined(__x86_64__) && !defined(CUDAEMU_UCONTEXT)
// Fiber switch: push the callee-saved registers, swap stacks, pop, return. The FP control
// words (MXCSR, x87 CW) are deliberately not switched: kernels never change them, and an
// ldmxcsr on every switch costs ~100 ns on our CI VMs (3-4 ns without).
extern "C" void trainer_cudaemu_switch(void** save_sp, void* load_sp);
asm(".pushsection .text\n.weak trainer_cudaemu_switch\n.type trainer_cudaemu_switch,@function\n"
    "trainer_cudaemu_switch:\n"
    "pushq %rbp\npushq %rbx\npushq %r12\npushq %r13\npushq %r14\npushq %r15\nmovq %rsp,(%rdi)\n"
    "movq %rsi,%rsp\npopq %r15\npopq %r14\npopq %r13\npopq %r12\npopq %rbx\npopq %rbp\nret\n.popsection");
#else
#include <ucontext.h>  // portable fallback: correct, but swapcontext makes a syscall per switch
#endif

namespace trainer::cudaemu {

// Checks what the CUDA runtime checks at launch time (block and grid limits, dynamic shared
// memory, a live stream), records a failure as the calling thread's last error and returns it.
// Defined with the runtime stand-ins in cudart_lite.cpp.
cudaError_t validate_launch(dim3 grid, dim3 block, size_t smem, cudaStream_t stream);
// Emulated device memory is host memory with a capacity (16 GiB unless set), so tests can
// drive cudaMalloc into cudaErrorMemoryAllocation.
void set_device_memory_capacity(size_t bytes);

// A kernel bug the GPU would turn into a hang or undefined behaviour: report and abort.
[[noreturn]] __attribute__((noinline, cold)) inline void die(const char* what, const char* file1 = nullptr,
                                                             int line1 = 0, const char* file2 = nullptr,
                                                             int line2 = 0) {
  if (file1) std::fprintf(stderr, "cudaemu: %s at %s:%d, others at %s:%d", what, file1, line1, file2, line2);
  else std::fprintf(stderr, "cudaemu: %s", what);
  std::fprintf(stderr, " (block %u,%u,%u thread %u,%u,%u)\n", blockIdx.x, blockIdx.y, blockIdx.z, threadIdx.x,
               threadIdx.y, threadIdx.z);
  std::abort();
}

#if defined(__x86_64__) && !defined(CUDAEMU_UCONTEXT)
using Context = void*;  // the saved stack pointer
inline void switch_to(Context* save, Context* load) { trainer_cudaemu_switch(save, *load); }
inline void make_context(Context* c, char* stack, size_t size, void (*entry)()) {
  void** sp = reinterpret_cast<void**>((reinterpret_cast<uintptr_t>(stack + size) & ~uintptr_t(15)) - 64);
  for (int i = 0; i < 6; ++i) sp[i] = nullptr;  // r15 r14 r13 r12 rbx rbp
  sp[6] = reinterpret_cast<void*>(entry);       // `ret` lands in entry() ...
  sp[7] = nullptr;                              // ... with a fake return address, rsp = 8 mod 16
  *c = sp;
}
#else
using Context = ucontext_t;
inline void switch_to(Context* save, Context* load) { swapcontext(save, load); }
inline void make_context(Context* c, char* stack, size_t size, void (*entry)()) {
  getcontext(c);
  c->uc_stack.ss_sp = stack;
  c->uc_stack.ss_size = size;
  c->uc_link = nullptr;
  makecontext(c, entry, 0);
}
#endif

// Counts arrivals; `gen` advances when everyone expected has arrived. Per-generation data
// alternates between two slots ([gen & 1]) so fast threads never clobber what slow ones read.
struct Barrier {
  int count = 0, reduced[2] = {0, 0};
  unsigned gen = 0, pending = 0, arrived[2] = {0, 0};
  int line = 0;
  const char* file = nullptr;
};
// The operands of one warp's wmma::mma_sync as logical row-major matrices (at most 16x16).
struct WmmaStage {
  float a[256], b[256], c[256];
};
struct Warp {
  Barrier bar;
  unsigned live = 0;  // lanes that have not exited
  int nlive = 0;
  alignas(16) unsigned char buf[2][32][16];  // shuffle exchange area, double-buffered by generation
  WmmaStage wmma[2];                         // mma_sync exchange area, double-buffered the same way
};
struct Thread {
  Context ctx;
  uint3 tid;
  int lane = 0, warp = 0;
  bool done = false;
};
// The state of the block running on this OS thread.
struct Block {
  std::vector<Thread> threads;
  std::vector<Warp> warps;
  Barrier bar;
  int live = 0;
  unsigned long events = 0, round_events = 0;  // arrivals and exits: progress for deadlock detection
  Thread* cur = nullptr;
  Context scheduler;
  void (*fn)(void*) = nullptr;
  void* arg = nullptr;
  std::vector<std::max_align_t> dynamic_smem;
  std::vector<char*> stacks;  // fiber stacks, a guard page below each
  size_t stack_size = std::getenv("CUDAEMU_STACK_KB") ? std::atoi(std::getenv("CUDAEMU_STACK_KB")) * size_t{1024}
                                                       : 64 * 1024;
  ~Block() {
    for (char* s : stacks) munmap(s - 4096, stack_size + 4096);
  }
};
inline thread_local Block* blk = nullptr;  // trivial TLS: no init wrapper on the hot paths
inline Block& thread_block() {
  thread_local Block b;
  return b;
}

inline bool reverse_order() {
  static const bool r = std::getenv("CUDAEMU_REVERSE") != nullptr;
  return r;
}

// Switches straight to the next unfinished thread, round robin (descending with CUDAEMU_REVERSE).
inline void schedule_next(Context* save) {
  Block& b = *blk;
  if (b.live == 0) {
    switch_to(save, &b.scheduler);
    return;
  }
  const int n = static_cast<int>(b.threads.size());
  const int step = reverse_order() ? n - 1 : 1, first = reverse_order() ? n - 1 : 0;
  int i = static_cast<int>(b.cur - b.threads.data());
  do {
    i = (i + step) % n;
    if (i == first) {  // a new round: a whole round without any arrival or exit is a deadlock
      if (b.events == b.round_events) die("deadlock: threads wait at a barrier/warp op that can never complete");
      b.round_events = b.events;
    }
  } while (b.threads[i].done);
  if (&b.threads[i] == b.cur) return;
  b.cur = &b.threads[i];
  threadIdx = b.threads[i].tid;
  switch_to(save, &b.threads[i].ctx);
}
inline void yield() { schedule_next(&blk->cur->ctx); }

inline void release(Barrier& b) {
  b.arrived[b.gen & 1] = b.pending;
  b.reduced[(b.gen + 1) & 1] = 0;
  b.pending = 0;
  b.count = 0;
  ++b.gen;
}

// Arrives at a barrier and waits until `expected` participants did; returns the generation.
// Block barriers pass their source line, so threads waiting at different __syncthreads are
// reported as divergent instead of silently pairing up.
inline unsigned arrive(Barrier& b, int expected, unsigned bit, const char* file, int line) {
  ++blk->events;
  if (b.count == 0) {
    b.file = file;
    b.line = line;
  } else if (file && (b.line != line || (b.file != file && std::strcmp(b.file, file) != 0))) {
    die("divergent __syncthreads", file, line, b.file, b.line);
  }
  const unsigned g = b.gen;
  b.pending |= bit;
  if (++b.count >= expected) release(b);
  else
    while (b.gen == g) yield();
  return g;
}
inline void sync_block(const char* file, int line) { arrive(blk->bar, blk->live, 0, file, line); }
inline int sync_block_count(int pred, const char* file, int line) {
  blk->bar.reduced[blk->bar.gen & 1] += pred != 0;
  return blk->bar.reduced[arrive(blk->bar, blk->live, 0, file, line) & 1];
}

inline int lane_id() { return blk->cur->lane; }
inline int expected_lanes(const Warp& w, unsigned mask) {
  return mask == ~0u ? w.nlive : __builtin_popcount(mask & w.live);
}

// Warp collective: publish my value, wait for the lanes in `mask`, return lane `src`'s value.
template <class T>
T exchange(unsigned mask, T v, int src) {
  static_assert(sizeof(T) <= 16, "shuffle of a type wider than 16 bytes");
  Thread& t = *blk->cur;
  Warp& w = blk->warps[t.warp];
  const unsigned phase = w.bar.gen & 1;
  std::memcpy(w.buf[phase][t.lane], static_cast<const void*>(&v), sizeof(T));
  arrive(w.bar, expected_lanes(w, mask), 1u << t.lane, nullptr, 0);
  T r;
  std::memcpy(static_cast<void*>(&r), w.buf[phase][src], sizeof(T));
  return r;
}
inline unsigned ballot(unsigned mask, int pred) {
  Thread& t = *blk->cur;
  Warp& w = blk->warps[t.warp];
  const unsigned phase = w.bar.gen & 1;
  w.buf[phase][t.lane][0] = pred != 0;
  arrive(w.bar, expected_lanes(w, mask), 1u << t.lane, nullptr, 0);
  unsigned r = 0;
  const unsigned who = w.bar.arrived[phase];
  for (int i = 0; i < 32; ++i)
    if ((who >> i & 1) && w.buf[phase][i][0]) r |= 1u << i;
  return r & mask;
}

inline void thread_exit(Thread& t) {
  t.done = true;
  --blk->live;
  ++blk->events;
  Warp& w = blk->warps[t.warp];
  w.live &= ~(1u << t.lane);
  --w.nlive;
  // Exited threads do not hold barriers up (as on the GPU since Volta).
  if (blk->bar.count > 0 && blk->bar.count >= blk->live) release(blk->bar);
  if (w.bar.count > 0 && w.bar.count >= w.nlive) release(w.bar);
}
inline void fiber_main() {
  Thread& t = *blk->cur;
  blk->fn(blk->arg);
  thread_exit(t);
  schedule_next(&t.ctx);  // never resumed
  std::abort();
}

inline void run_block(size_t smem, void (*fn)(void*), void* arg) {
  Block& b = *(blk = &thread_block());
  const int n = static_cast<int>(blockDim.x * blockDim.y * blockDim.z);
  b.dynamic_smem.resize((smem + sizeof(std::max_align_t) - 1) / sizeof(std::max_align_t));
  if (smem)  // NaN poison: a kernel that reads dynamic shared memory before writing it gets garbage
    std::memset(static_cast<void*>(b.dynamic_smem.data()), 0xff, b.dynamic_smem.size() * sizeof(std::max_align_t));
  while (static_cast<int>(b.stacks.size()) < n) {
    char* p = static_cast<char*>(
        mmap(nullptr, b.stack_size + 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    if (p == MAP_FAILED) die("cannot allocate a fiber stack");
    mprotect(p, 4096, PROT_NONE);
    b.stacks.push_back(p + 4096);
#ifdef VALGRIND_STACK_REGISTER
    VALGRIND_STACK_REGISTER(p + 4096, p + 4096 + b.stack_size);
#endif
  }
  b.threads.assign(n, Thread{});
  b.warps.resize((n + 31) / 32);
  b.bar = Barrier{};
  b.live = n;
  b.fn = fn;
  b.arg = arg;
  for (Warp& w : b.warps) {
    w.bar = Barrier{};
    w.live = 0;
    w.nlive = 0;
  }
  for (int i = 0; i < n; ++i) {
    Thread& t = b.threads[i];
    t.tid = make_uint3(i % blockDim.x, i / blockDim.x % blockDim.y, i / (blockDim.x * blockDim.y));
    t.lane = i % 32;
    t.warp = i / 32;
    b.warps[t.warp].live |= 1u << t.lane;
    b.warps[t.warp].nlive++;
    // Staggered stack tops: without it every fiber's frames alias in the L1 (4 KiB apart).
    make_context(&t.ctx, b.stacks[i], b.stack_size - (i % 64) * 64, fiber_main);
  }
  b.cur = &b.threads[reverse_order() ? n - 1 : 0];
  threadIdx = b.cur->tid;
  b.round_events = ~0ul;
  switch_to(&b.scheduler, &b.cur->ctx);  // back here when the last thread has exited
}

inline void run_grid(dim3 grid, dim3 block, size_t smem, void (*fn)(void*), void* arg) {
  const long nblocks = static_cast<long>(grid.x) * grid.y * grid.z;
#pragma omp parallel for schedule(dynamic, 1)
  for (long i = 0; i < nblocks; ++i) {
    gridDim = grid;
    blockDim = block;
    blockIdx = make_uint3(i % grid.x, i / grid.x % grid.y, i / (static_cast<long>(grid.x) * grid.y));
    run_block(smem, fn, arg);
  }
}

template <class T>
inline T* dynamic_smem() {
  return reinterpret_cast<T*>(blk->dynamic_smem.data());
}

// Runs the whole grid before returning: every emulated stream is synchronous.
template <class... P, class... A>
inline cudaError_t launch(void (*kernel)(P...), dim3 grid, dim3 block, size_t smem, cudaStream_t stream, A&&... args) {
  if (const cudaError_t err = validate_launch(grid, block, smem, stream); err != cudaSuccess) return err;
  std::tuple<std::decay_t<P>...> params(std::forward<A>(args)...);  // kernel parameters are by value
  auto body = [&] { std::apply(kernel, params); };
  run_grid(grid, block, smem, [](void* c) { (*static_cast<decltype(body)*>(c))(); }, &body);
  return cudaSuccess;
}

}  // namespace trainer::cudaemu

// ---- barriers and warp intrinsics (mask = participating lanes; width = power of two <= 32)
#define __syncthreads() ::trainer::cudaemu::sync_block(__FILE__, __LINE__)
#define __syncthreads_count(p) ::trainer::cudaemu::sync_block_count((p), __FILE__, __LINE__)
#define __syncthreads_or(p) (::trainer::cudaemu::sync_block_count((p), __FILE__, __LINE__) != 0)
#define __syncthreads_and(p) (::trainer::cudaemu::sync_block_count(!(p), __FILE__, __LINE__) == 0)
inline void __syncwarp(unsigned mask = 0xffffffffu) { trainer::cudaemu::ballot(mask, 0); }
inline unsigned __activemask() { return trainer::cudaemu::blk->warps[trainer::cudaemu::blk->cur->warp].live; }
inline unsigned __ballot_sync(unsigned mask, int pred) { return trainer::cudaemu::ballot(mask, pred); }
inline int __any_sync(unsigned mask, int pred) { return trainer::cudaemu::ballot(mask, pred) != 0; }
inline int __all_sync(unsigned mask, int pred) { return trainer::cudaemu::ballot(mask, !pred) == 0; }
template <class T>
T __shfl_sync(unsigned mask, T v, int src, int width = 32) {
  const int lane = trainer::cudaemu::lane_id();
  return trainer::cudaemu::exchange(mask, v, (lane & ~(width - 1)) + (src & (width - 1)));
}
template <class T>
T __shfl_up_sync(unsigned mask, T v, unsigned delta, int width = 32) {
  const int lane = trainer::cudaemu::lane_id(), src = lane - static_cast<int>(delta);
  return trainer::cudaemu::exchange(mask, v, src < (lane & ~(width - 1)) ? lane : src);
}
template <class T>
T __shfl_down_sync(unsigned mask, T v, unsigned delta, int width = 32) {
  const int lane = trainer::cudaemu::lane_id(), src = lane + static_cast<int>(delta);
  return trainer::cudaemu::exchange(mask, v, src >= (lane & ~(width - 1)) + width ? lane : src);
}
template <class T>
T __shfl_xor_sync(unsigned mask, T v, int lane_mask, int width = 32) {
  const int lane = trainer::cudaemu::lane_id(), src = lane ^ lane_mask;
  return trainer::cudaemu::exchange(mask, v, src >= (lane & ~(width - 1)) + width ? lane : src);
}

// ---- atomics: blocks run concurrently on OpenMP threads, so these are real CPU atomics
template <class T, class U>
T atomicAdd(T* p, U v) {
  if constexpr (std::is_integral_v<T>) {
    return __atomic_fetch_add(p, static_cast<T>(v), __ATOMIC_RELAXED);
  } else {
    T old, next;
    __atomic_load(p, &old, __ATOMIC_RELAXED);
    do {
      next = old + static_cast<T>(v);
    } while (!__atomic_compare_exchange(p, &old, &next, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED));
    return old;
  }
}
template <class T, class U>
T atomicSub(T* p, U v) {
  return atomicAdd(p, -static_cast<T>(v));
}
template <class T, class U>
T atomicExch(T* p, U v) {
  T next = static_cast<T>(v), old;
  __atomic_exchange(p, &next, &old, __ATOMIC_RELAXED);
  return old;
}
template <class T>
T atomicCAS(T* p, T compare, T v) {
  __atomic_compare_exchange(p, &compare, &v, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
  return compare;
}
template <class T, class U>
T atomicMax(T* p, U v) {
  T old = __atomic_load_n(p, __ATOMIC_RELAXED);
  while (old < static_cast<T>(v) &&
         !__atomic_compare_exchange_n(p, &old, static_cast<T>(v), true, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
  }
  return old;
}
template <class T, class U>
T atomicMin(T* p, U v) {
  T old = __atomic_load_n(p, __ATOMIC_RELAXED);
  while (static_cast<T>(v) < old &&
         !__atomic_compare_exchange_n(p, &old, static_cast<T>(v), true, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
  }
  return old;
}
template <class T, class U>
T atomicOr(T* p, U v) {
  return __atomic_fetch_or(p, static_cast<T>(v), __ATOMIC_RELAXED);
}
template <class T, class U>
T atomicAnd(T* p, U v) {
  return __atomic_fetch_and(p, static_cast<T>(v), __ATOMIC_RELAXED);
}
inline void __threadfence() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
inline void __threadfence_block() { __atomic_signal_fence(__ATOMIC_SEQ_CST); }

// ---- device math and bit intrinsics that the host C library lacks (exact here, approximate on
// the GPU: compare with tolerances)
inline float rsqrtf(float x) { return 1.0f / std::sqrt(x); }
inline double rsqrt(double x) { return 1.0 / std::sqrt(x); }
inline float __expf(float x) { return std::exp(x); }
inline float __logf(float x) { return std::log(x); }
inline float __fdividef(float a, float b) { return a / b; }
inline float __saturatef(float x) { return x < 0.f ? 0.f : (x > 1.f ? 1.f : x); }
inline float __fmaf_rn(float a, float b, float c) { return std::fma(a, b, c); }
inline int __float2int_rn(float x) { return static_cast<int>(std::nearbyint(x)); }
inline int __float_as_int(float x) {
  int i;
  std::memcpy(&i, &x, 4);
  return i;
}
inline float __int_as_float(int i) {
  float x;
  std::memcpy(&x, &i, 4);
  return x;
}
inline int __popc(unsigned x) { return __builtin_popcount(x); }
inline int __popcll(unsigned long long x) { return __builtin_popcountll(x); }
inline int __ffs(int x) { return __builtin_ffs(x); }
inline int __clz(int x) { return x ? __builtin_clz(static_cast<unsigned>(x)) : 32; }
inline unsigned __brev(unsigned x) {
  unsigned r = 0;
  for (int i = 0; i < 32; ++i) r |= ((x >> i) & 1u) << (31 - i);
  return r;
}
template <class T>
T __ldg(const T* p) {
  return *p;
}
template <class A, class B>
std::common_type_t<A, B> min(A a, B b) {
  return b < a ? b : a;
}
template <class A, class B>
std::common_type_t<A, B> max(A a, B b) {
  return a < b ? b : a;
}

// ---- warp matrix multiply-accumulate (nvcuda::wmma, <mma.h>): the shapes our kernels use,
// 16x16x16 with __half / __nv_bfloat16 operands and 16x16x8 with precision::tf32 operands, f32
// accumulators.
//
// CUDA leaves the element-to-lane layout of a fragment unspecified, and so does this emulator on
// purpose: lane l holds the logical elements i * 32 + ((7 l + 3 i) mod 32), i < num_elements,
// of the fragment's row-major matrix (A: M x K, B: K x N, accumulator: M x N) — a layout no GPU
// has, so a kernel that assumes one gets wrong answers here. What CUDA allows works: load/store/
// fill through the API, and elementwise work on x[i] that does not care which element it is
// (scaling, __float_to_tf32). load/store read and write memory lane by lane (no warp exchange) and
// check what the GPU requires: 256-bit aligned pointers and ldm a multiple of 16 bytes.
// mma_sync exchanges the operands through the warp's double-buffered WmmaStage (all 32 lanes
// must call it) and computes every product exactly in f32 (a product of two 11-bit mantissas
// fits) and sums over k in order, in f32, starting from C. tf32 operands: mma_sync ignores the
// low 13 mantissa bits, as tensor cores do; __float_to_tf32 rounds to nearest, ties away from
// zero (cvt.rna.tf32.f32), which is what kernels should call on each x[i] after a load.
namespace nvcuda::wmma {

struct matrix_a;
struct matrix_b;
struct accumulator;
struct row_major;
struct col_major;
enum layout_t { mem_row_major, mem_col_major };
namespace precision {
struct tf32;
}

namespace emu {
template <class Use, int M, int N, int K>
struct Dims;
template <int M, int N, int K>
struct Dims<matrix_a, M, N, K> {
  static constexpr int rows = M, cols = K;
};
template <int M, int N, int K>
struct Dims<matrix_b, M, N, K> {
  static constexpr int rows = K, cols = N;
};
template <int M, int N, int K>
struct Dims<accumulator, M, N, K> {
  static constexpr int rows = M, cols = N;
};
template <class T>
struct Storage {
  using type = T;
};
template <>
struct Storage<precision::tf32> {
  using type = float;
};
// Logical (row-major) index of element i of `lane`: a bijection onto [0, 32 * elements).
inline int element_index(int lane, int i) { return i * 32 + ((7 * lane + 3 * i) & 31); }

inline float tf32_truncate(float v) {  // what a tensor core reads of an f32 operand
  if (std::isnan(v)) return v;
  uint32_t u;
  std::memcpy(&u, &v, 4);
  u &= 0xffffe000u;
  std::memcpy(&v, &u, 4);
  return v;
}
inline float operand_value(float v) { return tf32_truncate(v); }
inline float operand_value(__half v) { return __half2float(v); }
inline float operand_value(__nv_bfloat16 v) { return __bfloat162float(v); }

template <class T>
inline void check_memory(const T* p, unsigned ldm, const char* what) {
  if (reinterpret_cast<uintptr_t>(p) % 32 != 0) ::trainer::cudaemu::die(what);
  if ((static_cast<size_t>(ldm) * sizeof(T)) % 16 != 0 || ldm == 0) ::trainer::cudaemu::die(what);
}
}  // namespace emu

template <class Use, int M, int N, int K, class T, class Layout = void>
class fragment {
  static_assert((M == 16 && N == 16 && K == 16 && (std::is_same_v<T, __half> || std::is_same_v<T, __nv_bfloat16> ||
                                                  (std::is_same_v<Use, accumulator> && std::is_same_v<T, float>))) ||
                    (M == 16 && N == 16 && K == 8 &&
                     (std::is_same_v<T, precision::tf32> ||
                      (std::is_same_v<Use, accumulator> && std::is_same_v<T, float>))),
                "the emulator has wmma fragments for 16x16x16 f16/bf16 and 16x16x8 tf32 with f32 accumulators");

 public:
  using element_type = typename emu::Storage<T>::type;
  using Shape = emu::Dims<Use, M, N, K>;
  static constexpr int num_elements = Shape::rows * Shape::cols / 32;
  element_type x[num_elements];
};

template <class Use, int M, int N, int K, class T, class L, class V>
inline void fill_fragment(fragment<Use, M, N, K, T, L>& f, const V& value) {
  using E = typename fragment<Use, M, N, K, T, L>::element_type;
  for (int i = 0; i < f.num_elements; ++i) f.x[i] = static_cast<E>(value);
}

// matrix_a / matrix_b: the layout is the fragment's; element (r, c) of the logical matrix is at
// p[r * ldm + c] (row_major) or p[c * ldm + r] (col_major).
template <class Use, int M, int N, int K, class T, class L, class P>
inline void load_matrix_sync(fragment<Use, M, N, K, T, L>& f, const P* p, unsigned ldm) {
  static_assert(std::is_same_v<L, row_major> || std::is_same_v<L, col_major>, "matrix fragments need a layout");
  static_assert(std::is_same_v<P, typename fragment<Use, M, N, K, T, L>::element_type>,
                "load_matrix_sync: pointer type differs from the fragment's element type");
  emu::check_memory(p, ldm, "wmma::load_matrix_sync: pointer not 256-bit aligned or ldm not a multiple of 16 bytes");
  using S = typename fragment<Use, M, N, K, T, L>::Shape;
  const int lane = ::trainer::cudaemu::lane_id();
  for (int i = 0; i < f.num_elements; ++i) {
    const int idx = emu::element_index(lane, i), r = idx / S::cols, c = idx % S::cols;
    f.x[i] = std::is_same_v<L, row_major> ? p[static_cast<size_t>(r) * ldm + c] : p[static_cast<size_t>(c) * ldm + r];
  }
}

// Accumulators: the memory layout is a run-time argument.
template <int M, int N, int K>
inline void load_matrix_sync(fragment<accumulator, M, N, K, float>& f, const float* p, unsigned ldm, layout_t layout) {
  emu::check_memory(p, ldm, "wmma::load_matrix_sync: pointer not 256-bit aligned or ldm not a multiple of 16 bytes");
  const int lane = ::trainer::cudaemu::lane_id();
  for (int i = 0; i < f.num_elements; ++i) {
    const int idx = emu::element_index(lane, i), r = idx / N, c = idx % N;
    f.x[i] = layout == mem_row_major ? p[static_cast<size_t>(r) * ldm + c] : p[static_cast<size_t>(c) * ldm + r];
  }
}
template <int M, int N, int K>
inline void store_matrix_sync(float* p, const fragment<accumulator, M, N, K, float>& f, unsigned ldm,
                              layout_t layout) {
  emu::check_memory(p, ldm, "wmma::store_matrix_sync: pointer not 256-bit aligned or ldm not a multiple of 16 bytes");
  const int lane = ::trainer::cudaemu::lane_id();
  for (int i = 0; i < f.num_elements; ++i) {
    const int idx = emu::element_index(lane, i), r = idx / N, c = idx % N;
    (layout == mem_row_major ? p[static_cast<size_t>(r) * ldm + c] : p[static_cast<size_t>(c) * ldm + r]) = f.x[i];
  }
}

// d = a * b + c (d may be c).
template <int M, int N, int K, class TA, class LA, class TB, class LB>
inline void mma_sync(fragment<accumulator, M, N, K, float>& d, const fragment<matrix_a, M, N, K, TA, LA>& a,
                     const fragment<matrix_b, M, N, K, TB, LB>& b, const fragment<accumulator, M, N, K, float>& c) {
  static_assert(std::is_same_v<TA, TB>, "mma_sync: A and B fragments of different types");
  namespace ce = ::trainer::cudaemu;
  ce::Thread& t = *ce::blk->cur;
  ce::Warp& w = ce::blk->warps[t.warp];
  if (w.nlive != 32) ce::die("wmma::mma_sync needs all 32 lanes of a full warp");
  ce::WmmaStage& s = w.wmma[w.bar.gen & 1];
  for (int i = 0; i < a.num_elements; ++i) s.a[emu::element_index(t.lane, i)] = emu::operand_value(a.x[i]);
  for (int i = 0; i < b.num_elements; ++i) s.b[emu::element_index(t.lane, i)] = emu::operand_value(b.x[i]);
  for (int i = 0; i < c.num_elements; ++i) s.c[emu::element_index(t.lane, i)] = c.x[i];
  ce::arrive(w.bar, 32, 1u << t.lane, nullptr, 0);
  for (int i = 0; i < d.num_elements; ++i) {
    const int idx = emu::element_index(t.lane, i), r = idx / N, col = idx % N;
    float acc = s.c[idx];
    for (int k = 0; k < K; ++k) acc += s.a[r * K + k] * s.b[k * N + col];  // exact products, f32 sums
    d.x[i] = acc;
  }
}

// Rounds an f32 to tf32 (10 mantissa bits): to nearest, ties away from zero; NaN and Inf kept.
inline float __float_to_tf32(float v) {
  if (!std::isfinite(v)) return v;
  uint32_t u;
  std::memcpy(&u, &v, 4);
  u = (u + 0x1000u) & 0xffffe000u;  // magnitude + half an ulp, truncated (may overflow to Inf)
  std::memcpy(&v, &u, 4);
  return v;
}

}  // namespace nvcuda::wmma

#endif  // __CUDACC__
