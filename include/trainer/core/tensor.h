// Tensor: a typed, shaped view into device storage (src/README.md, decisions 1-4).
// Activations are NHWC and convolution weights OHWI by convention; the tensor itself only
// knows shape, strides (in elements), dtype and device. Views share storage.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "trainer/core/device.h"
#include "trainer/core/dtype.h"
#include "trainer/core/error.h"

namespace trainer {

using Shape = std::vector<int64_t>;

int64_t shape_numel(const Shape& shape);
std::string shape_str(const Shape& shape);  // "[32,224,224,3]"
Shape contiguous_strides(const Shape& shape);

// Owns one allocation from its device's allocator.
class Storage {
 public:
  Storage(size_t bytes, Device device);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  size_t bytes() const { return bytes_; }
  Device device() const { return device_; }

 private:
  void* data_ = nullptr;
  size_t bytes_ = 0;
  Device device_;
};

class Tensor {
 public:
  Tensor() = default;

  static Tensor empty(const Shape& shape, DType dtype, Device device = Device::cpu());
  static Tensor zeros(const Shape& shape, DType dtype, Device device = Device::cpu());
  static Tensor full(const Shape& shape, double value, DType dtype, Device device = Device::cpu());
  // A CPU tensor holding a copy of `values` (converted to dtype).
  static Tensor from_floats(const Shape& shape, const std::vector<float>& values, DType dtype = DType::F32);
  template <class T>
  static Tensor from_vector(const Shape& shape, const std::vector<T>& values);

  bool defined() const { return storage_ != nullptr; }
  const Shape& shape() const { return shape_; }
  const Shape& strides() const { return strides_; }
  int rank() const { return static_cast<int>(shape_.size()); }
  int64_t dim(int i) const { return shape_[i < 0 ? i + rank() : i]; }
  int64_t numel() const { return shape_numel(shape_); }
  DType dtype() const { return dtype_; }
  Device device() const { return device_; }
  size_t nbytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype_); }
  bool is_contiguous() const;
  bool same_storage(const Tensor& other) const { return storage_ == other.storage_; }

  void* raw() const;
  template <class T>
  T* data() const {
    TRAINER_CHECK(dtype_ == dtype_of_v<T>, "tensor ", describe(), " accessed as ", dtype_name(dtype_of_v<T>));
    return static_cast<T*>(raw());
  }

  // Views (no copy). reshape needs a contiguous tensor; one dimension may be -1.
  Tensor reshape(const Shape& shape) const;
  Tensor slice(int dim, int64_t begin, int64_t end) const;
  // Copies.
  Tensor contiguous() const;
  Tensor clone() const;
  Tensor to(Device device) const;  // an explicit host<->device copy (src/README.md, decision 4)
  void copy_from(const Tensor& src);  // same shape and dtype; any devices
  void zero_();
  void fill_(double value);  // CPU tensors

  // Host-side conveniences for tests and small metadata (not for hot paths).
  std::vector<float> to_floats() const;
  double item() const;

  std::string describe() const;  // "f32[32,224,224,3]" (+ "@cuda:0")

  // Autograd identity (src/ops/README.md): the tape's slot for this tensor's gradient, -1 if
  // untracked.
  int64_t grad_id() const { return grad_id_; }
  void set_grad_id(int64_t id) { grad_id_ = id; }
  bool requires_grad() const { return grad_id_ >= 0; }
  Tensor detach() const {
    Tensor t = *this;
    t.grad_id_ = -1;
    return t;
  }

 private:
  std::shared_ptr<Storage> storage_;
  int64_t offset_ = 0;  // elements
  Shape shape_, strides_;
  DType dtype_ = DType::F32;
  Device device_;
  int64_t grad_id_ = -1;
};

template <class T>
Tensor Tensor::from_vector(const Shape& shape, const std::vector<T>& values) {
  TRAINER_CHECK(static_cast<int64_t>(values.size()) == shape_numel(shape), "from_vector: ", values.size(),
                " values for shape ", shape_str(shape));
  Tensor t = empty(shape, dtype_of_v<T>);
  std::copy(values.begin(), values.end(), t.data<T>());
  return t;
}

}  // namespace trainer
