#include "trainer/train/trainer.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "trainer/core/allocator.h"
#include "trainer/core/log.h"
#include "trainer/ops/numerics_check.h"
#include "trainer/ops/tensor_math.h"
#include "trainer/train/loss_history.h"

namespace trainer::train {
namespace {

using Clock = std::chrono::steady_clock;

std::string format_duration(double seconds) {
  const int64_t s = static_cast<int64_t>(seconds);
  char buf[32];
  if (s >= 3600) std::snprintf(buf, sizeof buf, "%lldh%02lldm", (long long)(s / 3600), (long long)(s / 60 % 60));
  else std::snprintf(buf, sizeof buf, "%lldm%02llds", (long long)(s / 60), (long long)(s % 60));
  return buf;
}

}  // namespace

Trainer::Trainer(TrainTask& task, const TrainerOptions& o, MetricsLog& log)
    : task_(task), options_(o), log_(log), optimizer_(task.store(), o.optimizer), scaler_(o.loss_scaling) {
  if (!o.model_dir.empty()) checkpoints_ = std::make_unique<CheckpointManager>(o.model_dir, o.keep_checkpoints);
  if (o.moving_average_decay > 0) moving_average_.emplace(task.store(), o.moving_average_decay);
  if (distributed())
    reducer_ = std::make_unique<GradientReducer>(task.store(), *o.communicator, o.allreduce_bucket_bytes);
}

std::optional<TrainingState> Trainer::resume() {
  if (!checkpoints_) return std::nullopt;
  const auto path = checkpoints_->latest();
  if (distributed()) {
    // Every rank must resume from the same checkpoint (a model_dir that is not shared between
    // machines, or a copy lagging behind, would not): compare what each rank found.
    const std::vector<std::string> found = options_.communicator->allgather(path ? *path : "none");
    for (size_t r = 1; r < found.size(); ++r)
      TRAINER_CHECK(found[r] == found[0], "rank ", r, " would resume from ", found[r], " but rank 0 from ", found[0],
                    "; every rank must see the same runtime.model_dir");
  }
  if (!path) return std::nullopt;
  // A damaged newest checkpoint (its checksum or structure is wrong: a disk error, a bad copy)
  // costs the steps since the one before, not the run.
  std::optional<TrainingState> loaded;
  std::string from;
  for (const std::string& candidate : checkpoints_->newest_first()) {
    try {
      loaded = load_checkpoint(candidate, task_.store(), training_tensors());
      from = candidate;
      break;
    } catch (const Error& e) {
      log_warn("cannot resume from ", candidate, ": ", e.what(), "; trying the checkpoint before it");
    }
  }
  TRAINER_CHECK(loaded, "none of the checkpoints in ", checkpoints_->directory(),
                " can be loaded (see the warnings above); move them away to start afresh");
  TrainingState s = *loaded;
  step_ = s.step;
  resume_cursor_ = {s.loader_epoch, s.loader_batch};
  scaler_.restore(s.loss_scale, s.loss_scale_good_steps, s.loss_scale_overflows);
  skipped_steps_ = s.skipped_steps;
  log_info("resumed from ", from, " at step ", s.step);
  return s;
}

double Trainer::clip_per_tensor(nn::ParameterStore& store) const {
  const double limit = options_.clip_gradient_norm_per_tensor;
  double total = 0;
  for (nn::Parameter& p : store.params()) {
    double squared = math::squared_norm(p.grad);
    if (squared > limit * limit) {
      math::scale_(p.grad, static_cast<float>(limit / std::sqrt(squared)));
      squared = limit * limit;
    }
    total += squared;
  }
  return total;
}

double Trainer::forward_backward(const TrainBatch& batch, NumericsCheck* check, bool reduce,
                                 const std::function<void()>& once_loss_queued) {
  nn::ParameterStore& store = task_.store();
  Tape tape;
  Context ctx(options_.execution, &tape, true);
  ctx.device = store.device();
  tape.time_parts(ctx.part_times);
  tape.time_layers(ctx.layer_times);
  if (check) {
    check->watch(tape);
    ctx.observer = check;
  }
  store.track(tape);
  const Tensor loss = task_.loss(ctx, batch, step_);
  if (once_loss_queued) once_loss_queued();
  const double value = loss.item();
  if (check) check->check_forward();
  const Tensor seed = Tensor::full({}, scaler_.scale(), DType::F32, loss.device());
  if (reduce && reducer_) reducer_->attach(tape);
  tape.backward(loss, seed);
  store.untrack();
  if (ctx.layer_times) ctx.layer_times->outside("after backward (tape cleanup)");
  return value;
}

size_t Trainer::step_memory(const TrainBatch& batch) {
  nn::ParameterStore& store = task_.store();
  if (!store.device().is_cpu()) return 0;
  Tensor& statistics = store.buffer_values();
  const Tensor statistics_before = statistics.defined() ? statistics.clone() : Tensor();
  cpu_allocator_reset_peak();
  const size_t before = cpu_allocator_stats().in_use;
  forward_backward(batch, nullptr, false);
  const size_t peak = cpu_allocator_stats().peak;
  if (statistics_before.defined()) statistics.copy_from(statistics_before);
  return peak > before ? peak - before : 0;
}

std::string Trainer::diagnose(const TrainBatch& batch) {
  NumericsCheck check;
  forward_backward(batch, &check, false);
  return check.first() ? NumericsCheck::describe(*check.first())
                       : "no op's output or gradient was non-finite when the batch ran again";
}

StepResult Trainer::step(const TrainBatch& batch, const std::function<void()>& once_loss_queued) {
  nn::ParameterStore& store = task_.store();
  if (options_.communicator) options_.communicator->set_step(step_);
  StepResult r;
  r.lr = options_.schedule.at(step_);
  r.loss_scale = scaler_.scale();
  // The forward pass updates batchnorm's running statistics before anyone knows whether this
  // step's gradients are finite: keep the old ones to put back if the step is skipped.
  Tensor& statistics = store.buffer_values();
  const Tensor statistics_before = statistics.defined() ? statistics.clone() : Tensor();
  if (options_.check_numerics) {
    NumericsCheck check;
    r.loss = forward_backward(batch, &check, true, once_loss_queued);
    TRAINER_CHECK(!check.first(), "check_numerics: step ", step_, ": ", NumericsCheck::describe(*check.first()));
  } else {
    r.loss = forward_backward(batch, nullptr, true, once_loss_queued);
  }
  Tensor& grads = store.grads();
  if (distributed()) {
    // Every rank makes the same collectives every step, whatever its batch held (every bucket,
    // then the loss), so the finite check and the loss-scale decision below see identical
    // numbers on every rank.
    reducer_->finish();
    r.loss = options_.communicator->allreduce_sum(r.loss) / options_.communicator->world_size();
    if (LayerTimes* times = options_.execution.layer_times) times->outside("gradient reduction (the last buckets)");
  }
  double squared_norm = 0;
  r.applied = scaler_.unscale_and_check(grads, &squared_norm) && std::isfinite(r.loss);
  if (!r.applied) {
    // Skipped completely: no update, no momentum, no moving average, no running statistics, and
    // the learning-rate schedule does not advance (step_ counts updates).
    ++skipped_steps_;
    if (statistics_before.defined()) statistics.copy_from(statistics_before);
    r.skipped_steps = skipped_steps_;
    r.overflows = scaler_.overflows();
  }
  if (r.applied) {
    if (options_.clip_gradient_norm_per_tensor > 0) squared_norm = clip_per_tensor(store);
    r.grad_norm = std::sqrt(squared_norm);
    if (options_.clip_gradient_norm > 0 && r.grad_norm > options_.clip_gradient_norm)
      math::scale_(grads, static_cast<float>(options_.clip_gradient_norm / r.grad_norm));
    if (moving_average_) moving_average_->values();  // starts from the weights before the first update
    optimizer_.step(r.lr);
    if (moving_average_) moving_average_->update(step_ + 1);
    bad_in_a_row_ = 0;
  } else if (options_.loss_scaling.mode != LossScalerOptions::Mode::Dynamic ||
             scaler_.scale() <= options_.loss_scaling.min_scale) {
    // Without dynamic scaling (or with the scale already at its floor), a non-finite loss or
    // gradient is a diverging run, not an overflow to back off from: skip the update (the
    // weights stay good) and give up if it keeps happening.
    if (++bad_in_a_row_ == 1) {
      first_bad_ = diagnose(batch);
      if (statistics_before.defined()) statistics.copy_from(statistics_before);  // the rerun's, undone
    }
    log_warn("step ", step_, ": non-finite ", std::isfinite(r.loss) ? "gradients" : "loss", " (loss ", r.loss,
             ", lr ", r.lr, "); update skipped", bad_in_a_row_ == 1 ? "; first non-finite: " + first_bad_ : "");
    TRAINER_CHECK(bad_in_a_row_ < options_.max_consecutive_bad_steps, "training diverged: ", bad_in_a_row_,
                  " steps in a row with a non-finite loss or gradients, the last at step ", step_, " (lr ", r.lr,
                  "); where it started: ", first_bad_,
                  ". Lower the learning rate or enable loss scaling, and resume from the last checkpoint");
  } else {
    log_info("step ", step_, ": gradients overflowed at loss scale ", r.loss_scale, "; update skipped, scale now ",
             scaler_.scale());
  }
  r.skipped_steps = skipped_steps_;
  r.overflows = scaler_.overflows();
  if (r.applied) ++step_;
  if (LayerTimes* times = options_.execution.layer_times)
    times->outside("optimizer (unscale, finite check, clipping, update)");
  return r;
}

std::optional<std::string> Trainer::save(const BatchSource& source) { return save_at(source.cursor()); }

std::optional<std::string> Trainer::save_at(std::pair<int64_t, int64_t> cursor) {
  if (!checkpoints_ || (distributed() && !options_.communicator->is_root())) return std::nullopt;
  TrainingState s;
  s.step = step_;
  std::tie(s.loader_epoch, s.loader_batch) = cursor;
  s.loss_scale = scaler_.scale();
  s.loss_scale_good_steps = scaler_.good_steps();
  s.loss_scale_overflows = scaler_.overflows();
  s.skipped_steps = skipped_steps_;
  return checkpoints_->save(task_.store(), training_tensors(), s, options_.config_text, task_.architecture());
}

void Trainer::run(BatchSource& source) {
  const bool tty = isatty(STDERR_FILENO);
  const int64_t total = options_.num_steps;
  auto window_start = Clock::now();
  const auto run_start = window_start;
  int64_t window_images = 0, window_steps = 0;
  double window_loss = 0;
  const int64_t first_step = step_;
  const bool root = !distributed() || options_.communicator->is_root();
  // The loss's terms summed over the log window where they are (on the GPU: no copy per step).
  const std::vector<std::string> term_names = task_.loss_term_names();
  std::vector<Tensor> window_terms(term_names.size());
  // The loss curve of the whole run (loss.png is drawn from it), continued from this step.
  std::optional<LossHistory> history;
  if (root && !options_.model_dir.empty())
    history.emplace((std::filesystem::path(options_.model_dir) / kLossHistoryFile).string(), step_, term_names);
  if (distributed()) {
    // Rank 0's weights and statistics (initialised, fine-tuned or resumed) for everyone.
    options_.communicator->broadcast(task_.store().values(), 0);
    if (task_.store().buffer_values().defined()) options_.communicator->broadcast(task_.store().buffer_values(), 0);
    task_.store().bump_version();
    if (root) {
      char mib[32];
      std::snprintf(mib, sizeof mib, "%.3g", static_cast<double>(std::max<int64_t>(options_.allreduce_bucket_bytes, 0)) / (1 << 20));
      log_info("gradients averaged over ", options_.communicator->world_size(), " ranks in ", reducer_->buckets().size(),
               " bucket(s) of about ", mib, " MiB (runtime.allreduce_bucket_mb), each started as backward finishes it");
    }
  }
  // Under mpirun the ranks stop together: a signal reaches them at different moments (scancel,
  // a launcher's SIGTERM), and a rank that stopped alone would leave the others in a collective
  // and the checkpoint unwritten.
  auto stop_requested = [&] {
    const bool mine = options_.should_stop && options_.should_stop();
    return distributed() ? options_.communicator->allreduce_sum(mine ? 1 : 0) > 0 : mine;
  };
  // Each step's batch was taken, and its copy to the device started, during the step before
  // (once that step's loss was queued), so the copy overlaps compute instead of holding up the
  // step's first kernels. Checkpoints save the cursor after the batch last trained, not after
  // the one prefetched: that one is trained again when the run resumes. A step that would end
  // the run prefetches nothing; a prefetched batch that a stop leaves untrained is dropped.
  const Device device = task_.store().device();
  std::unique_ptr<TrainBatch> batch, next;
  std::pair<int64_t, int64_t> trained_cursor = source.cursor();
  auto take_next = [&] {
    next = source.next();
    next->prefetch(device);
  };
  while ((total == 0 || step_ < total) && !stop_requested()) {
    if (!batch) {
      take_next();
      batch = std::move(next);
    }
    const std::pair<int64_t, int64_t> cursor_after_batch = source.cursor();
    const bool may_end_the_run = total > 0 && step_ + 1 == total;
    const StepResult r = step(*batch, may_end_the_run ? std::function<void()>() : take_next);
    trained_cursor = cursor_after_batch;
    window_images += batch->size() * (distributed() ? options_.communicator->world_size() : 1);  // the job's
    window_loss += r.loss;
    const std::vector<Tensor> terms = task_.last_loss_terms();
    TRAINER_CHECK(terms.size() == term_names.size(), "the task gave ", terms.size(), " loss terms for ",
                  term_names.size(), " names");
    for (size_t i = 0; i < terms.size(); ++i) {
      if (window_terms[i].defined()) math::add_(window_terms[i], terms[i]);
      else window_terms[i] = terms[i].clone();
    }
    ++window_steps;
    const bool last = total > 0 && step_ == total;
    // A skipped batch leaves step_ where it was: log and checkpoint on the updates only. Every
    // rank takes the same decision (whether a step is applied is the same everywhere).
    const bool log_step = r.applied && (step_ % std::max<int64_t>(options_.log_every, 1) == 0 || last);
    std::vector<double> mean_terms;
    if (log_step) {
      for (Tensor& sum : window_terms) {
        double mean = sum.defined() ? sum.item() / static_cast<double>(window_steps) : 0.0;
        if (distributed()) mean = options_.communicator->allreduce_sum(mean) / options_.communicator->world_size();
        mean_terms.push_back(mean);
        sum = Tensor();
      }
    }
    if (root && log_step) {
      const double secs = std::chrono::duration<double>(Clock::now() - window_start).count();
      const double ips = secs > 0 ? window_images / secs : 0;
      const double mean_loss = window_loss / window_steps;
      MetricMap record = {{"loss", mean_loss}, {"lr", r.lr}, {"loss_scale", scaler_.scale()},
                          {"train.imgs_per_sec", ips}, {"grad_norm", r.grad_norm}, {"skipped_steps", r.skipped_steps},
                          {"loss_scale_overflows", r.overflows}};
      for (size_t i = 0; i < mean_terms.size(); ++i) record["loss." + term_names[i]] = mean_terms[i];
      log_.log(step_, record);
      if (history) history->append({step_, mean_loss, r.lr, mean_terms});
      const double elapsed = std::chrono::duration<double>(Clock::now() - run_start).count();
      const double per_step = elapsed / static_cast<double>(step_ - first_step);
      const std::string eta = total > 0 ? " eta " + format_duration(per_step * static_cast<double>(total - step_)) : "";
      char line[256];
      std::snprintf(line, sizeof line, "step %lld%s  loss %.4f  lr %.5g  %.1f img/s%s",
                    static_cast<long long>(step_), total > 0 ? ("/" + std::to_string(total)).c_str() : "", mean_loss,
                    r.lr, ips, eta.c_str());
      if (tty) std::fprintf(stderr, "\r%-100s%s", line, last ? "\n" : "");
      else std::fprintf(stderr, "%s\n", line);
      window_start = Clock::now();
    }
    if (log_step) {
      window_images = window_steps = 0;
      window_loss = 0;
    }
    if (r.applied && checkpoints_ && options_.checkpoint_every > 0 && step_ % options_.checkpoint_every == 0 && !last &&
        save_at(trained_cursor) && options_.after_checkpoint)
      options_.after_checkpoint();
    batch = std::move(next);  // null when this step prefetched nothing
  }
  if (checkpoints_) {
    if (const auto path = save_at(trained_cursor)) {
      log_info("saved ", *path);
      if (options_.after_checkpoint) options_.after_checkpoint();
    }
  }
}

}  // namespace trainer::train
