// Marks a named part of the network while it runs (ExecutionSettings::part_times): its forward
// time from construction to destruction, and — through the tape — the backward closures its ops
// record. The outermost part owns the time: a part entered inside another is not counted apart.
// Without part_times in the context it does nothing.
#pragma once

#include <chrono>

#include "trainer/ops/context.h"

namespace trainer::ops {

class PartScope {
 public:
  PartScope(Context& ctx, const char* part) : ctx_(ctx) {
    if (!part || !ctx.part_times || ctx.part) return;
    active_ = true;
    ctx.part = part;
    if (ctx.tape) ctx.tape->set_part(part);
    start_ = std::chrono::steady_clock::now();
  }
  ~PartScope() {
    if (!active_) return;
    ctx_.part_times->add(ctx_.part, std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count());
    if (ctx_.tape) ctx_.tape->set_part(nullptr);
    ctx_.part = nullptr;
  }
  PartScope(const PartScope&) = delete;
  PartScope& operator=(const PartScope&) = delete;

 private:
  Context& ctx_;
  bool active_ = false;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace trainer::ops
