#include "trainer/core/tensor.h"

#include <algorithm>
#include <cstring>
#include <sstream>
#include <type_traits>

#include "trainer/core/allocator.h"

namespace trainer {

int64_t shape_numel(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::string shape_str(const Shape& shape) {
  std::ostringstream os;
  os << '[';
  for (size_t i = 0; i < shape.size(); ++i) os << (i ? "," : "") << shape[i];
  os << ']';
  return os.str();
}

Shape contiguous_strides(const Shape& shape) {
  Shape strides(shape.size());
  int64_t s = 1;
  for (int i = static_cast<int>(shape.size()) - 1; i >= 0; --i) {
    strides[i] = s;
    s *= shape[i];
  }
  return strides;
}

Storage::Storage(size_t bytes, Device device)
    : data_(allocator_for(device).allocate(bytes)), bytes_(bytes), device_(device) {}

Storage::~Storage() { allocator_for(device_).deallocate(data_, bytes_); }

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
  for (int64_t d : shape) TRAINER_CHECK(d >= 0, "negative dimension in shape ", shape_str(shape));
  Tensor t;
  t.storage_ = std::make_shared<Storage>(static_cast<size_t>(shape_numel(shape)) * dtype_size(dtype), device);
  t.shape_ = shape;
  t.strides_ = contiguous_strides(shape);
  t.dtype_ = dtype;
  t.device_ = device;
  return t;
}

Tensor Tensor::zeros(const Shape& shape, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  t.zero_();
  return t;
}

Tensor Tensor::full(const Shape& shape, double value, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, Device::cpu());
  t.fill_(value);
  return device.is_cpu() ? t : t.to(device);
}

Tensor Tensor::from_floats(const Shape& shape, const std::vector<float>& values, DType dtype) {
  TRAINER_CHECK(static_cast<int64_t>(values.size()) == shape_numel(shape), "from_floats: ", values.size(),
                " values for shape ", shape_str(shape));
  Tensor t = empty(shape, dtype);
  dispatch_dtype(dtype, [&](auto tag) {
    using T = decltype(tag);
    T* p = t.data<T>();
    for (size_t i = 0; i < values.size(); ++i) p[i] = static_cast<T>(values[i]);
  });
  return t;
}

bool Tensor::is_contiguous() const {
  int64_t expected = 1;
  for (int i = rank() - 1; i >= 0; --i) {
    if (shape_[i] != 1 && strides_[i] != expected) return false;
    expected *= shape_[i];
  }
  return true;
}

void* Tensor::raw() const {
  TRAINER_CHECK(defined(), "access to an undefined tensor");
  return static_cast<char*>(storage_->data()) + offset_ * static_cast<int64_t>(dtype_size(dtype_));
}

Tensor Tensor::reshape(const Shape& shape) const {
  TRAINER_CHECK(is_contiguous(), "reshape of non-contiguous tensor ", describe(), "; call contiguous() first");
  Shape s = shape;
  int infer = -1;
  int64_t known = 1;
  for (int i = 0; i < static_cast<int>(s.size()); ++i) {
    if (s[i] == -1) {
      TRAINER_CHECK(infer < 0, "reshape ", shape_str(shape), ": more than one -1");
      infer = i;
    } else {
      known *= s[i];
    }
  }
  if (infer >= 0) {
    TRAINER_CHECK(known > 0 && numel() % known == 0, "reshape of ", describe(), " to ", shape_str(shape));
    s[infer] = numel() / known;
  }
  TRAINER_CHECK(shape_numel(s) == numel(), "reshape of ", describe(), " to ", shape_str(shape),
                ": element counts differ");
  Tensor t = *this;
  t.shape_ = s;
  t.strides_ = contiguous_strides(s);
  return t;
}

Tensor Tensor::slice(int dim, int64_t begin, int64_t end) const {
  if (dim < 0) dim += rank();
  TRAINER_CHECK(dim >= 0 && dim < rank(), "slice: dim ", dim, " out of range for ", describe());
  TRAINER_CHECK(0 <= begin && begin <= end && end <= shape_[dim], "slice [", begin, ",", end, ") of dim ", dim,
                " out of range for ", describe());
  Tensor t = *this;
  t.offset_ += begin * strides_[dim];
  t.shape_[dim] = end - begin;
  return t;
}

namespace {

// Strided CPU copy, innermost dimension as a contiguous run where possible.
void strided_copy_cpu(char* dst, const Shape& dst_strides, const char* src, const Shape& src_strides,
                      const Shape& shape, size_t elem) {
  const int rank = static_cast<int>(shape.size());
  if (rank == 0) {
    std::memcpy(dst, src, elem);
    return;
  }
  std::vector<int64_t> idx(rank, 0);
  const int64_t inner = shape[rank - 1];
  const bool inner_contiguous = dst_strides[rank - 1] == 1 && src_strides[rank - 1] == 1;
  const int64_t outer = shape_numel(shape) / std::max<int64_t>(inner, 1);
  for (int64_t o = 0; o < outer && inner > 0; ++o) {
    int64_t doff = 0, soff = 0;
    for (int d = 0; d < rank - 1; ++d) {
      doff += idx[d] * dst_strides[d];
      soff += idx[d] * src_strides[d];
    }
    if (inner_contiguous) {
      std::memcpy(dst + doff * elem, src + soff * elem, inner * elem);
    } else {
      for (int64_t i = 0; i < inner; ++i)
        std::memcpy(dst + (doff + i * dst_strides[rank - 1]) * elem, src + (soff + i * src_strides[rank - 1]) * elem,
                    elem);
    }
    for (int d = rank - 2; d >= 0; --d) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
}

}  // namespace

void Tensor::copy_from(const Tensor& src) {
  TRAINER_CHECK(src.shape_ == shape_ && src.dtype_ == dtype_, "copy_from: ", src.describe(), " into ", describe());
  if (device_.is_cpu() && src.device_.is_cpu()) {
    if (is_contiguous() && src.is_contiguous()) {
      std::memcpy(raw(), src.raw(), nbytes());
    } else {
      strided_copy_cpu(static_cast<char*>(raw()), strides_, static_cast<const char*>(src.raw()), src.strides_,
                       shape_, dtype_size(dtype_));
    }
    return;
  }
  TRAINER_CHECK(is_contiguous() && src.is_contiguous(), "copy between devices needs contiguous tensors: ",
                src.describe(), " -> ", describe());
  count_device_copy(device_, src.device_, nbytes());
  cuda_runtime().copy(raw(), device_, src.raw(), src.device_, nbytes());
}

Tensor Tensor::contiguous() const {
  if (is_contiguous()) return *this;
  return clone();
}

Tensor Tensor::clone() const {
  Tensor t = empty(shape_, dtype_, device_);
  t.copy_from(*this);
  return t;
}

Tensor Tensor::to(Device device) const {
  if (device == device_) return *this;
  Tensor t = empty(shape_, dtype_, device);
  t.copy_from(contiguous());
  return t;
}

void Tensor::zero_() {
  if (device_.is_cpu()) {
    if (is_contiguous()) std::memset(raw(), 0, nbytes());
    else fill_(0.0);
  } else {
    TRAINER_CHECK(is_contiguous(), "zero_ of a non-contiguous device tensor ", describe());
    cuda_runtime().fill_zero(raw(), nbytes());
  }
}

void Tensor::fill_(double value) {
  TRAINER_CHECK(device_.is_cpu(), "fill_ on ", describe(), ": only CPU tensors");
  dispatch_dtype(dtype_, [&](auto tag) {
    using T = decltype(tag);
    T v;
    if constexpr (std::is_integral_v<T>) v = static_cast<T>(value);
    else v = static_cast<T>(static_cast<float>(value));
    if (is_contiguous()) {
      std::fill_n(static_cast<T*>(raw()), numel(), v);
    } else {
      Tensor c = empty(shape_, dtype_);
      std::fill_n(c.data<T>(), numel(), v);
      copy_from(c);
    }
  });
}

std::vector<float> Tensor::to_floats() const {
  Tensor c = to(Device::cpu()).contiguous();
  std::vector<float> out(static_cast<size_t>(numel()));
  dispatch_dtype(dtype_, [&](auto tag) {
    using T = decltype(tag);
    const T* p = static_cast<const T*>(c.raw());
    for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<float>(p[i]);
  });
  return out;
}

double Tensor::item() const {
  TRAINER_CHECK(numel() == 1, "item() of ", describe(), ": not a single element");
  return to_floats()[0];
}

std::string Tensor::describe() const {
  if (!defined()) return "undefined";
  std::string s = std::string(dtype_name(dtype_)) + shape_str(shape_);
  if (!device_.is_cpu()) s += "@" + device_.name();
  return s;
}

}  // namespace trainer
