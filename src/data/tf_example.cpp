// Generated protobuf code rather than a hand-written wire parser: Example is a map of
// oneofs whose int64 lists may arrive packed or unpacked, and the detection records to come
// (COCO: bbox float lists, class lists, masks) need the same general access. The one cost,
// copying the image bytes out of the message, is far below the cost of decoding them.
#include "trainer/data/tf_example.h"

#include "tensorflow/core/example/example.pb.h"
#include "trainer/data/dataset.h"

namespace trainer::data {

ImageExample parse_image_example(std::span<const uint8_t> record, std::string_view name, const ImageExampleKeys& keys) {
  tensorflow::Example example;
  if (!example.ParseFromArray(record.data(), static_cast<int>(record.size())))
    fail_sample(name, ": not a tf.train.Example (protobuf parse failed, ", record.size(), " bytes)");
  const auto& features = example.features().feature();

  ImageExample out;
  const auto image = features.find(keys.image);
  if (image == features.end() || !image->second.has_bytes_list() || image->second.bytes_list().value_size() != 1)
    fail_sample(name, ": Example has no single bytes feature '", keys.image, "'");
  const std::string& bytes = image->second.bytes_list().value(0);
  out.encoded.assign(bytes.begin(), bytes.end());

  const auto label = features.find(keys.label);
  if (label == features.end() || !label->second.has_int64_list() || label->second.int64_list().value_size() != 1)
    fail_sample(name, ": Example has no single int64 feature '", keys.label, "'");
  out.label = label->second.int64_list().value(0);
  return out;
}

std::vector<uint8_t> make_image_example(std::span<const uint8_t> encoded, int64_t label, std::string_view format,
                                        std::string_view filename, const ImageExampleKeys& keys) {
  tensorflow::Example example;
  auto& features = *example.mutable_features()->mutable_feature();
  features[keys.image].mutable_bytes_list()->add_value(encoded.data(), encoded.size());
  features[keys.label].mutable_int64_list()->add_value(label);
  features["image/format"].mutable_bytes_list()->add_value(std::string(format));
  features["image/filename"].mutable_bytes_list()->add_value(std::string(filename));
  std::vector<uint8_t> out(example.ByteSizeLong());
  TRAINER_CHECK(example.SerializeToArray(out.data(), static_cast<int>(out.size())),
                "cannot serialise the tf.train.Example for ", filename);
  return out;
}

namespace {

using FeatureMap = google::protobuf::Map<std::string, tensorflow::Feature>;

const char* kind_name(const tensorflow::Feature& f) {
  switch (f.kind_case()) {
    case tensorflow::Feature::kBytesList: return "a bytes_list";
    case tensorflow::Feature::kFloatList: return "a float_list";
    case tensorflow::Feature::kInt64List: return "an int64_list";
    default: return "empty (no list)";
  }
}

// The feature under `key` if present; a feature of another kind is a bad sample, as
// TensorFlow's parser rejects the whole record. An empty Feature (no list) counts as absent.
const tensorflow::Feature* find(const FeatureMap& features, const std::string& key, tensorflow::Feature::KindCase kind,
                                const char* expected, std::string_view name) {
  const auto it = features.find(key);
  if (it == features.end() || it->second.kind_case() == tensorflow::Feature::KIND_NOT_SET) return nullptr;
  if (it->second.kind_case() != kind)
    fail_sample(name, ": feature ", key, " is ", kind_name(it->second), ", expected ", expected);
  return &it->second;
}

std::vector<float> floats(const FeatureMap& features, const std::string& key, std::string_view name) {
  const auto* f = find(features, key, tensorflow::Feature::kFloatList, "a float_list", name);
  if (!f) return {};
  return {f->float_list().value().begin(), f->float_list().value().end()};
}

std::vector<int64_t> int64s(const FeatureMap& features, const std::string& key, std::string_view name) {
  const auto* f = find(features, key, tensorflow::Feature::kInt64List, "an int64_list", name);
  if (!f) return {};
  return {f->int64_list().value().begin(), f->int64_list().value().end()};
}

std::vector<std::string> strings(const FeatureMap& features, const std::string& key, std::string_view name) {
  const auto* f = find(features, key, tensorflow::Feature::kBytesList, "a bytes_list", name);
  if (!f) return {};
  return {f->bytes_list().value().begin(), f->bytes_list().value().end()};
}

// A scalar feature: its one value, or `absent` without one; several values are a bad sample.
template <class T>
T single(const std::vector<T>& values, const std::string& key, T absent, std::string_view name) {
  if (values.empty()) return absent;
  if (values.size() != 1) fail_sample(name, ": feature ", key, " holds ", values.size(), " values, expected one");
  return values.front();
}

}  // namespace

DetectionExample parse_detection_example(std::span<const uint8_t> record, std::string_view name) {
  tensorflow::Example example;
  if (!example.ParseFromArray(record.data(), static_cast<int>(record.size())))
    fail_sample(name, ": not a tf.train.Example (protobuf parse failed, ", record.size(), " bytes)");
  const FeatureMap& features = example.features().feature();
  DetectionExample out;
  const std::vector<std::string> encoded = strings(features, "image/encoded", name);
  if (encoded.size() != 1) fail_sample(name, ": Example has no single bytes feature 'image/encoded'");
  out.encoded.assign(encoded.front().begin(), encoded.front().end());
  out.format = single<std::string>(strings(features, "image/format", name), "image/format", "", name);
  out.filename = single<std::string>(strings(features, "image/filename", name), "image/filename", "", name);
  out.source_id = single<std::string>(strings(features, "image/source_id", name), "image/source_id", "", name);
  out.height = single<int64_t>(int64s(features, "image/height", name), "image/height", -1, name);
  out.width = single<int64_t>(int64s(features, "image/width", name), "image/width", -1, name);
  out.ymin = floats(features, "image/object/bbox/ymin", name);
  out.xmin = floats(features, "image/object/bbox/xmin", name);
  out.ymax = floats(features, "image/object/bbox/ymax", name);
  out.xmax = floats(features, "image/object/bbox/xmax", name);
  out.class_label = int64s(features, "image/object/class/label", name);
  out.class_text = strings(features, "image/object/class/text", name);
  out.is_crowd = int64s(features, "image/object/is_crowd", name);
  out.area = floats(features, "image/object/area", name);
  return out;
}

std::vector<uint8_t> make_detection_example(const DetectionExample& e) {
  tensorflow::Example example;
  auto& features = *example.mutable_features()->mutable_feature();
  auto put_bytes = [&](const char* key, std::string_view value) {
    if (!value.empty()) features[key].mutable_bytes_list()->add_value(std::string(value));
  };
  auto put_int = [&](const char* key, int64_t value) {
    if (value >= 0) features[key].mutable_int64_list()->add_value(value);
  };
  auto put_floats = [&](const char* key, const std::vector<float>& values) {
    if (!values.empty()) features[key].mutable_float_list()->mutable_value()->Add(values.begin(), values.end());
  };
  auto put_ints = [&](const char* key, const std::vector<int64_t>& values) {
    if (!values.empty()) features[key].mutable_int64_list()->mutable_value()->Add(values.begin(), values.end());
  };
  put_int("image/height", e.height);
  put_int("image/width", e.width);
  put_bytes("image/filename", e.filename);
  put_bytes("image/source_id", e.source_id);
  features["image/encoded"].mutable_bytes_list()->add_value(e.encoded.data(), e.encoded.size());
  put_bytes("image/format", e.format);
  put_floats("image/object/bbox/xmin", e.xmin);
  put_floats("image/object/bbox/xmax", e.xmax);
  put_floats("image/object/bbox/ymin", e.ymin);
  put_floats("image/object/bbox/ymax", e.ymax);
  for (const auto& text : e.class_text) features["image/object/class/text"].mutable_bytes_list()->add_value(text);
  put_ints("image/object/class/label", e.class_label);
  put_ints("image/object/is_crowd", e.is_crowd);
  put_floats("image/object/area", e.area);
  std::vector<uint8_t> out(example.ByteSizeLong());
  TRAINER_CHECK(example.SerializeToArray(out.data(), static_cast<int>(out.size())),
                "cannot serialise the detection tf.train.Example for ", e.filename);
  return out;
}

}  // namespace trainer::data
