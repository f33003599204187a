// Detection datasets: the label map, TFRecords in create_coco_tf_record.py's layout, the COCO
// JSON dataset on the four real val2017 images of tests/eval/data, the synthetic one, and every
// kind of bad input with the message it produces.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <optional>
#include <set>

#include "test_util.h"
#include "trainer/data/coco_json_dataset.h"
#include "trainer/data/detection_tfrecord_dataset.h"
#include "trainer/data/detection_transform.h"
#include "trainer/data/label_map.h"
#include "trainer/data/synthetic_dataset.h"
#include "trainer/data/tf_example.h"

namespace trainer::data {
namespace {

using testing::error_of;
using testing::ScratchDir;

std::string coco_json() { return testing::source_dir() + "/tests/eval/data/instances_val2017_mini.json"; }
std::string coco_images() { return testing::source_dir() + "/tests/data/fixtures"; }

// The eleven categories the four images use, as in mscoco_label_map.pbtxt (name = Freebase MID).
const char* kLabelMapText = R"(# a comment
item { name: "/m/01g317" id: 1 display_name: "person" }
item { name: "/m/0199g" id: 2 display_name: "bicycle" }
item { name: "/m/0k4j" id: 3 display_name: "car" }
item {
  name: "/m/04_sv"
  id: 4
  display_name: "motorcycle"
}
item { name: "/m/01bjv" id: 6 display_name: "bus" }
item { name: "/m/07r04" id: 8 display_name: "truck" }
item { name: "/m/015qff" id: 10 display_name: "traffic light" }
item { name: "/m/015p6" id: 16 display_name: "bird" }
item { name: "/m/01xq0k1" id: 21 display_name: "cow" }
item { name: "/m/03bk1" id: 25 display_name: "giraffe" }
item { name: "/m/03fp41" id: 64 display_name: "potted plant" }
)";

std::shared_ptr<const LabelMap> coco_label_map() {
  return std::make_shared<const LabelMap>(LabelMap::parse(kLabelMapText, "mscoco_subset.pbtxt"));
}

// Runs f with stderr captured and returns what it printed.
template <class F>
std::string stderr_of(F f) {
  ::testing::internal::CaptureStderr();
  f();
  return ::testing::internal::GetCapturedStderr();
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// ---- label map ----

TEST(LabelMap, ParsesNamesIdsAndDisplayNames) {
  const LabelMap map = LabelMap::parse(kLabelMapText, "mscoco_subset.pbtxt");
  EXPECT_EQ(map.items().size(), 11u);
  EXPECT_EQ(map.max_id(), 64);
  EXPECT_TRUE(map.contains(25));
  EXPECT_FALSE(map.contains(5));  // airplane is not in this subset
  EXPECT_EQ(map.class_name(1), "person");
  EXPECT_EQ(map.class_name(64), "potted plant");
  EXPECT_EQ(map.class_name(5), "");
  // class/text lookup: by name or by display name.
  EXPECT_EQ(map.id_of("/m/0k4j"), 3);
  EXPECT_EQ(map.id_of("car"), 3);
  EXPECT_EQ(map.id_of("traffic light"), 10);
  EXPECT_EQ(map.id_of("Car"), -1);
  // Without a display name the name is shown; id 0 is allowed for the background only.
  const LabelMap plain = LabelMap::parse("item { name: 'background' id: 0 } item { name: 'cat' id: 7 }", "plain");
  EXPECT_EQ(plain.class_name(7), "cat");
  EXPECT_EQ(plain.max_id(), 7);
}

TEST(LabelMap, ErrorsNameFileLineAndColumn) {
  // A syntax error: protobuf's message at the exact place.
  std::string message = error_of([] { LabelMap::parse("item {\n  name: \"a\"\n  id 1\n}\n", "bad.pbtxt"); });
  EXPECT_TRUE(contains(message, "bad.pbtxt:3:")) << message;
  message = error_of([] { LabelMap::parse("item { name: 'a' idx: 1 }", "unknown.pbtxt"); });
  EXPECT_TRUE(contains(message, "unknown.pbtxt:1:")) << message;
  EXPECT_TRUE(contains(message, "idx")) << message;
  // Invalid items point at their id.
  message = error_of([] { LabelMap::parse("item { name: 'a' id: 1 }\nitem { name: 'b'\n       id: -3 }", "neg.pbtxt"); });
  EXPECT_TRUE(contains(message, "neg.pbtxt:3:8: label map ids must be >= 0, got -3")) << message;
  message = error_of([] { LabelMap::parse("item { name: 'person' id: 0 }", "zero.pbtxt"); });
  EXPECT_TRUE(contains(message, "zero.pbtxt:1:")) << message;
  EXPECT_TRUE(contains(message, "reserved for the background")) << message;
  message = error_of([] { LabelMap::parse("\n\nitem { name: 'x' }", "noid.pbtxt"); });
  EXPECT_TRUE(contains(message, "noid.pbtxt:3:1: label map item 0 (name \"x\") has no id")) << message;
  message = error_of([] { LabelMap::parse("# nothing\n", "empty.pbtxt"); });
  EXPECT_TRUE(contains(message, "empty.pbtxt: the label map has no items")) << message;
  ScratchDir dir;
  message = error_of([&] { LabelMap::load(dir / "missing.pbtxt"); });
  EXPECT_TRUE(contains(message, "cannot open label map " + (dir / "missing.pbtxt"))) << message;
  testing::write_bytes(dir / "map.pbtxt", std::vector<uint8_t>(kLabelMapText, kLabelMapText + std::strlen(kLabelMapText)));
  EXPECT_EQ(LabelMap::load(dir / "map.pbtxt").max_id(), 64);
}

// ---- the COCO JSON dataset on the real val2017 images ----

TEST(CocoJsonDataset, FourRealImagesWithTheirAnnotations) {
  CocoJsonDatasetOptions options;
  options.num_classes = 90;
  const CocoJsonDetectionDataset coco(coco_json(), coco_images(), options);
  ASSERT_EQ(coco.size(), 4);
  EXPECT_EQ(coco.num_classes(), 90);
  // The JSON's order, sizes and annotation counts (tests/eval/data/README.md).
  const int64_t ids[4] = {174482, 480985, 289393, 17627};
  const int heights[4] = {388, 500, 480, 480}, widths[4] = {640, 375, 640, 640};
  const size_t counts[4] = {12, 13, 4, 16};
  DetectionTransformOptions eval;
  eval.train = false;
  const DetectionTransform transform(eval);
  std::vector<float> pixels(320 * 320 * 3);
  for (int i = 0; i < 4; ++i) {
    const Sample s = coco.read(i);
    EXPECT_EQ(s.annotations.image_id, ids[i]);
    EXPECT_EQ(s.annotations.original_height, heights[i]);
    EXPECT_EQ(s.annotations.original_width, widths[i]);
    EXPECT_EQ(s.annotations.boxes.size(), counts[i]);
    EXPECT_EQ(s.encoded, read_file_bytes(coco.path(i)));
    // The JSON's sizes are the photographs' real sizes.
    ImageAnnotations a;
    Philox rng(0, 0);
    transform.apply(s, rng, DType::F32, pixels.data(), &a);
    EXPECT_EQ(a.original_height, heights[i]);
    EXPECT_EQ(a.original_width, widths[i]);
    EXPECT_EQ(a.boxes, s.annotations.boxes);
  }
  // 000000289393.jpg's four objects, from the JSON's numbers: bbox [x, y, w, h] / (640, 480).
  const Sample s = coco.read(2);
  const double bbox[4][4] = {{522.6, 333.02, 117.31, 140.76},
                             {32.85, 86.02, 241.96, 148.79},
                             {81.22, 200.52, 274.94, 211.42},
                             {0.0, 20.49, 38.83, 296.63}};
  const int32_t labels[4] = {16, 25, 21, 64};  // bird, giraffe, cow, potted plant
  const double areas[4] = {10152.601749999998, 9484.0864, 34725.09389999999, 3576.798599999999};
  for (int k = 0; k < 4; ++k) {
    const BoxAnnotation& b = s.annotations.boxes[k];
    EXPECT_EQ(b.xmin, static_cast<float>(bbox[k][0] / 640));
    EXPECT_EQ(b.ymin, static_cast<float>(bbox[k][1] / 480));
    EXPECT_EQ(b.xmax, static_cast<float>((bbox[k][0] + bbox[k][2]) / 640));
    EXPECT_EQ(b.ymax, static_cast<float>((bbox[k][1] + bbox[k][3]) / 480));
    EXPECT_EQ(b.label, labels[k]);
    EXPECT_FALSE(b.crowd);
    EXPECT_EQ(b.area, static_cast<float>(areas[k]));
  }
  // Without a label map, the JSON's categories name the classes.
  EXPECT_EQ(coco.label_map().class_name(25), "giraffe");
  EXPECT_EQ(coco.label_map().max_id(), 90);
  const GroundTruthCounts counts_seen = coco.ground_truth_counts();
  EXPECT_EQ(counts_seen.clipped + counts_seen.empty_dropped + counts_seen.bad_label_dropped, 0);
}

// A small instances JSON with the given annotations, over two images of the real set.
std::string small_json(const std::string& annotations) {
  return R"({"images": [{"id": 289393, "file_name": "000000289393.jpg", "width": 640, "height": 480},
                       {"id": 7, "file_name": "missing.jpg", "width": 100, "height": 50}],
             "categories": [{"id": 1, "name": "person"}, {"id": 18, "name": "dog"}],
             "annotations": [)" +
         annotations + "]}";
}

TEST(CocoJsonDataset, BadBoxesAreClippedOrDroppedAndCounted) {
  ScratchDir dir;
  const std::string json = small_json(R"(
      {"id": 1, "image_id": 289393, "category_id": 1, "bbox": [600, 400, 80, 100], "area": 10, "iscrowd": 0},
      {"id": 2, "image_id": 289393, "category_id": 18, "bbox": [10, 10, 0, 30], "area": 0, "iscrowd": 1},
      {"id": 3, "image_id": 289393, "category_id": 3, "bbox": [10, 10, 20, 30], "area": 600, "iscrowd": 0},
      {"id": 4, "image_id": 289393, "category_id": 18, "bbox": [700, 10, 20, 30], "area": 600, "iscrowd": 0},
      {"id": 5, "image_id": 289393, "category_id": 18, "bbox": [1, 2, 3, 4], "area": 12, "iscrowd": 1})");
  testing::write_bytes(dir / "a.json", std::vector<uint8_t>(json.begin(), json.end()));
  CocoJsonDatasetOptions options;
  options.num_classes = 90;
  std::unique_ptr<CocoJsonDetectionDataset> coco;
  const std::string log = stderr_of([&] { coco = std::make_unique<CocoJsonDetectionDataset>(dir / "a.json", coco_images(), options); });
  ASSERT_EQ(coco->size(), 2);
  const Sample s = coco->read(0);
  ASSERT_EQ(s.annotations.boxes.size(), 2u);
  // Box 1 reaches past the bottom-right corner: clipped to the image.
  EXPECT_EQ(s.annotations.boxes[0].xmin, static_cast<float>(600.0 / 640));
  EXPECT_EQ(s.annotations.boxes[0].xmax, 1.0f);
  EXPECT_EQ(s.annotations.boxes[0].ymax, 1.0f);
  // Box 5 survives with its crowd flag; 2 (zero width), 3 (category 3 not in the file's
  // categories) and 4 (wholly right of the image) are gone.
  EXPECT_EQ(s.annotations.boxes[1].label, 18);
  EXPECT_TRUE(s.annotations.boxes[1].crowd);
  const GroundTruthCounts counts = coco->ground_truth_counts();
  EXPECT_EQ(counts.clipped, 1);
  EXPECT_EQ(counts.empty_dropped, 2);
  EXPECT_EQ(counts.bad_label_dropped, 1);
  EXPECT_TRUE(contains(log, "000000289393.jpg (image id 289393): object 2 has class id 3, which is not in the label map"))
      << log;
  EXPECT_TRUE(contains(log, "object 1 has no area inside the image")) << log;
  EXPECT_TRUE(contains(log, "object 0 reaches outside the image")) << log;
  // The image without annotations is a sample with no boxes; its file is missing, which is a
  // BadSampleError naming the path.
  EXPECT_EQ(coco->path(1), coco_images() + "/missing.jpg");
  try {
    coco->read(1);
    FAIL();
  } catch (const BadSampleError& e) {
    EXPECT_TRUE(contains(e.what(), coco_images() + "/missing.jpg")) << e.what();
  }
  // With num_classes 10, class 18 is out of range too.
  options.num_classes = 10;
  const CocoJsonDetectionDataset small(dir / "a.json", coco_images(), options);
  EXPECT_EQ(small.read(0).annotations.boxes.size(), 1u);
  options.num_classes = 0;
  EXPECT_TRUE(contains(error_of([&] { CocoJsonDetectionDataset(dir / "a.json", coco_images(), options); }),
                       "num_classes must be given"));
  EXPECT_TRUE(contains(error_of([&] { CocoJsonDetectionDataset(dir / "none.json", coco_images(), {90, nullptr}); }),
                       dir / "none.json"));
}

// ---- TFRecords in create_coco_tf_record.py's layout ----

// Writes the four real images as create_coco_tf_record.py does: class/text names, area,
// is_crowd, source_id as text; returns the record file.
std::string write_coco_records(const ScratchDir& dir, bool with_class_label) {
  const std::string path = dir / "coco_val.record-00000-of-00001";
  CocoJsonDatasetOptions options;
  options.num_classes = 90;
  const CocoJsonDetectionDataset coco(coco_json(), coco_images(), options);
  TFRecordWriter writer(path);
  for (int64_t i = 0; i < coco.size(); ++i) {
    const Sample s = coco.read(i);
    DetectionExample e;
    e.encoded = s.encoded;
    e.format = "jpeg";
    e.filename = std::filesystem::path(s.name).filename().string();
    e.source_id = std::to_string(s.annotations.image_id);
    e.height = s.annotations.original_height;
    e.width = s.annotations.original_width;
    for (const auto& b : s.annotations.boxes) {
      e.xmin.push_back(b.xmin), e.xmax.push_back(b.xmax), e.ymin.push_back(b.ymin), e.ymax.push_back(b.ymax);
      e.class_text.push_back(coco.label_map().class_name(b.label));
      if (with_class_label) e.class_label.push_back(b.label);
      e.is_crowd.push_back(b.crowd);
      e.area.push_back(b.area);
    }
    writer.write(make_detection_example(e));
  }
  writer.close();
  return path;
}

TEST(DetectionTFRecord, RoundTripOfTheRealImagesInCreateCocoTfRecordLayout) {
  ScratchDir dir;
  const std::string path = write_coco_records(dir, false);
  CocoJsonDatasetOptions json_options;
  json_options.num_classes = 90;
  const CocoJsonDetectionDataset coco(coco_json(), coco_images(), json_options);
  DetectionTFRecordDatasetOptions options;
  options.num_classes = 90;
  options.label_map = coco_label_map();  // class/text "giraffe" -> 25 through display_name
  const DetectionTFRecordDataset records({dir / "coco_val.record-*"}, options);
  ASSERT_EQ(records.size(), 4);
  for (int64_t i = 0; i < 4; ++i) {
    const Sample from_json = coco.read(i), from_record = records.read(i);
    EXPECT_EQ(from_record.name, str(path, "@", records.files()[0].offset(i)));
    EXPECT_EQ(from_record.encoded, from_json.encoded);
    EXPECT_EQ(from_record.annotations, from_json.annotations) << i;
    EXPECT_EQ(from_record.label, -1);
  }
  // The bird of 000000289393.jpg, by the JSON's numbers.
  const BoxAnnotation bird = records.read(2).annotations.boxes[0];
  EXPECT_EQ(bird.label, 16);
  EXPECT_EQ(bird.xmin, static_cast<float>(522.6 / 640));
  EXPECT_EQ(bird.ymax, static_cast<float>((333.02 + 140.76) / 480));
  EXPECT_EQ(records.read(2).annotations.image_id, 289393);

  // Without a label map the records cannot be read: they name classes by text only.
  options.label_map = nullptr;
  const DetectionTFRecordDataset unmapped({path}, options);
  const std::string message = error_of([&] { unmapped.read(0); });
  EXPECT_TRUE(contains(message, path + "@0: objects are named by image/object/class/text only")) << message;
  // Records that also carry class/label read without one, with the same labels.
  ScratchDir other;
  const std::string labelled = write_coco_records(other, true);
  const DetectionTFRecordDataset by_label({labelled}, options);
  for (int64_t i = 0; i < 4; ++i) EXPECT_EQ(by_label.read(i).annotations, coco.read(i).annotations);
}

// One record with the given objects (boxes [ymin, xmin, ymax, xmax]) around a small PNG.
std::vector<uint8_t> record_with(const std::vector<std::array<float, 4>>& boxes, const std::vector<int64_t>& labels,
                                 const std::string& source_id = "42") {
  DetectionExample e;
  e.encoded = testing::encode(testing::gradient(12, 16, 3), ".png");
  e.source_id = source_id;
  e.height = 12;
  e.width = 16;
  for (const auto& b : boxes) e.ymin.push_back(b[0]), e.xmin.push_back(b[1]), e.ymax.push_back(b[2]), e.xmax.push_back(b[3]);
  e.class_label = labels;
  return make_detection_example(e);
}

TEST(DetectionTFRecord, BadBoxesAndLabelsAreDroppedWithOneWarningEach) {
  ScratchDir dir;
  const std::string path = dir / "bad.record";
  const float nan = std::numeric_limits<float>::quiet_NaN();
  {
    TFRecordWriter writer(path);
    writer.write(record_with({{0.1f, 0.1f, 0.5f, 0.5f},     // fine
                              {0.5f, 0.5f, 1.2f, 1.5f},     // past the corner: clipped
                              {0.2f, 0.2f, 0.2f, 0.6f},     // zero height: dropped
                              {0.6f, 0.2f, 0.3f, 0.6f},     // inverted: dropped
                              {0.1f, 1.1f, 0.4f, 1.3f},     // wholly right of the image: dropped
                              {nan, 0.1f, 0.5f, 0.5f},      // NaN: dropped
                              {0.1f, 0.1f, 0.5f, 0.5f},     // class 91 > num_classes: dropped
                              {0.1f, 0.1f, 0.5f, 0.5f},     // class 0 (background): dropped
                              {0.1f, 0.1f, 0.5f, 0.5f}},    // class 5: not in the label map
                             {1, 3, 1, 1, 1, 1, 91, 0, 5}));
    writer.write(record_with({}, {}));                      // an image without objects: kept
    writer.write(record_with({{0.1f, 0.1f, 0.5f, 0.5f}}, {92}));
    writer.close();
  }
  DetectionTFRecordDatasetOptions options;
  options.num_classes = 90;
  options.label_map = coco_label_map();
  const DetectionTFRecordDataset records({path}, options);
  Sample first;
  const std::string log = stderr_of([&] {
    first = records.read(0);
    records.read(2);  // another bad label: no second warning
  });
  ASSERT_EQ(first.annotations.boxes.size(), 2u);
  EXPECT_EQ(first.annotations.boxes[0], (BoxAnnotation{0.1f, 0.1f, 0.5f, 0.5f, 1, false, -1}));
  EXPECT_EQ(first.annotations.boxes[1], (BoxAnnotation{0.5f, 0.5f, 1.0f, 1.0f, 3, false, -1}));
  EXPECT_EQ(first.annotations.image_id, 42);
  const GroundTruthCounts counts = records.ground_truth_counts();
  EXPECT_EQ(counts.nan_dropped, 1);
  EXPECT_EQ(counts.clipped, 1);
  EXPECT_EQ(counts.empty_dropped, 3);
  EXPECT_EQ(counts.bad_label_dropped, 4);  // 91, 0, 5 here and 92 in the third record
  EXPECT_TRUE(contains(log, path + "@0: object 6 has class id 91, outside 1..90 (num_classes)")) << log;
  EXPECT_FALSE(contains(log, "class id 92")) << log;
  EXPECT_TRUE(contains(log, path + "@0: object 5 has a NaN coordinate")) << log;
  EXPECT_TRUE(contains(log, path + "@0: object 2 has no area inside the image")) << log;
  EXPECT_TRUE(contains(log, path + "@0: object 1 reaches outside the image")) << log;
  const Sample empty = records.read(1);
  EXPECT_TRUE(empty.annotations.boxes.empty());
  EXPECT_FALSE(empty.encoded.empty());

  // A class text the label map does not know: the warning shows the text.
  const std::string texts = dir / "text.record";
  {
    DetectionExample e;
    e.encoded = testing::encode(testing::gradient(4, 4, 3), ".png");
    e.ymin = {0.1f, 0.2f}, e.xmin = {0.1f, 0.2f}, e.ymax = {0.5f, 0.6f}, e.xmax = {0.5f, 0.6f};
    e.class_text = {"zebra", "person"};
    TFRecordWriter writer(texts);
    writer.write(make_detection_example(e));
    writer.close();
  }
  const DetectionTFRecordDataset by_text({texts}, options);
  Sample s;
  const std::string text_log = stderr_of([&] { s = by_text.read(0); });
  ASSERT_EQ(s.annotations.boxes.size(), 1u);
  EXPECT_EQ(s.annotations.boxes[0].label, 1);
  EXPECT_TRUE(contains(text_log, "object 0 has class id -1 (class text \"zebra\")")) << text_log;
}

TEST(DetectionTFRecord, BrokenRecordsAreBadSamplesNamingFileOffsetAndFeature) {
  ScratchDir dir;
  const std::string path = dir / "broken.record";
  std::vector<std::vector<uint8_t>> records;
  records.push_back(record_with({{0.1f, 0.1f, 0.5f, 0.5f}}, {1, 2}));  // two labels, one box
  {
    DetectionExample e;  // xmin with one value too few
    e.encoded = testing::encode(testing::gradient(4, 4, 3), ".png");
    e.ymin = {0.1f, 0.2f}, e.xmin = {0.1f}, e.ymax = {0.5f, 0.6f}, e.xmax = {0.5f, 0.6f};
    e.class_label = {1, 1};
    records.push_back(make_detection_example(e));
  }
  {
    DetectionExample e;  // an image that does not decode
    e.encoded = {0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3};
    e.source_id = "5";
    records.push_back(make_detection_example(e));
  }
  records.push_back(record_with({{0.1f, 0.1f, 0.5f, 0.5f}}, {1}, "not-a-number"));
  {
    DetectionExample e;  // a size no int holds (it used to wrap around silently)
    e.encoded = {0xFF, 0xD8, 0xFF};
    e.height = int64_t{1} << 40;
    e.width = 640;
    records.push_back(make_detection_example(e));
  }
  {
    TFRecordWriter writer(path);
    for (const auto& r : records) writer.write(r);
    writer.close();
  }
  DetectionTFRecordDatasetOptions options;
  options.num_classes = 90;
  const DetectionTFRecordDataset dataset({path}, options);
  const auto offset = [&](int i) { return str(path, "@", dataset.files()[0].offset(i)); };
  const auto bad = [&](int i) {
    try {
      dataset.read(i);
    } catch (const BadSampleError& e) {
      return std::string(e.what());
    }
    return std::string("no BadSampleError");
  };
  EXPECT_TRUE(contains(bad(0), offset(0) + ": feature image/object/class/label holds 2 values but the record has 1 boxes"))
      << bad(0);
  EXPECT_TRUE(contains(bad(1), offset(1) + ": feature image/object/bbox/xmin holds 1 values but the record has 2 boxes"))
      << bad(1);
  // The undecodable image: the transform's BadSampleError names file@offset.
  const Sample undecodable = dataset.read(2);
  EXPECT_EQ(undecodable.name, offset(2));
  DetectionTransformOptions eval;
  eval.train = false;
  const DetectionTransform transform(eval);
  std::vector<float> out(320 * 320 * 3);
  Philox rng(0, 0);
  try {
    transform.apply(undecodable, rng, DType::F32, out.data());
    FAIL();
  } catch (const BadSampleError& e) {
    EXPECT_TRUE(contains(e.what(), offset(2))) << e.what();
  }
  // A source_id that is not a number: the record's position, said once.
  Sample numbered;
  const std::string log = stderr_of([&] { numbered = dataset.read(3); });
  EXPECT_EQ(numbered.annotations.image_id, 3);
  EXPECT_TRUE(contains(log, "image/source_id \"not-a-number\" is not a whole number")) << log;
  EXPECT_EQ(stderr_of([&] { dataset.read(3); }), "");
  EXPECT_TRUE(contains(bad(4), offset(4) + ": image/height 1099511627776 or image/width 640 is beyond any image size"))
      << bad(4);
  // A damaged record: the CRC check names file and offset.
  {
    const auto at = static_cast<std::streamoff>(dataset.files()[0].offset(3) + 12 + 3);  // a data byte
    std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
    file.seekg(at);
    const char c = static_cast<char>(file.get());
    file.seekp(at);
    file.put(static_cast<char>(c ^ 0x40));
  }
  EXPECT_TRUE(contains(bad(3), path + ": record 3 at offset " + std::to_string(dataset.files()[0].offset(3)))) << bad(3);
  // A file cut in the middle of a record keeps the records before the cut; the warning names
  // the file and the offset of the lost tail.
  std::filesystem::resize_file(path, dataset.files()[0].offset(3) + 20);
  std::optional<DetectionTFRecordDataset> truncated;
  const std::string warning = stderr_of([&] { truncated.emplace(std::vector<std::string>{path}, options); });
  EXPECT_EQ(truncated->size(), 3);
  EXPECT_TRUE(contains(warning, path + ": a record claims")) << warning;
  EXPECT_TRUE(contains(warning, "at offset " + std::to_string(dataset.files()[0].offset(3)) + "; 20 bytes skipped"))
      << warning;
}

TEST(DetectionTFRecord, WrongFeatureTypesAreNamed) {
  // Hand-built Example bytes: features { feature { key: "image/encoded" value { bytes_list { value: "x" } } }
  //                                       feature { key: "image/object/bbox/ymin" value { int64_list { value: 1 } } } }
  // Protobuf wire format: a length-delimited field is its tag byte, a length byte, the bytes.
  auto field = [](char tag, const std::string& bytes) { return std::string{tag, static_cast<char>(bytes.size())} + bytes; };
  auto entry = [&](const std::string& key, const std::string& value) {  // a Features.feature map entry
    return field(0x0A, field(0x0A, key) + field(0x12, value));
  };
  const std::string bytes_list = field(0x0A, field(0x0A, "x"));   // Feature.bytes_list { value: "x" }
  const std::string int64_list = field(0x1A, field(0x0A, "\x01"));  // Feature.int64_list { value: 1 } (packed)
  const std::string text = field(0x0A, entry("image/encoded", bytes_list) + entry("image/object/bbox/ymin", int64_list));
  const std::vector<uint8_t> example(text.begin(), text.end());
  const std::string message = error_of([&] { parse_detection_example(example, "hand@0"); });
  EXPECT_TRUE(contains(message, "hand@0: feature image/object/bbox/ymin is an int64_list, expected a float_list"))
      << message;
  EXPECT_TRUE(contains(error_of([] { parse_detection_example(std::vector<uint8_t>{0xFF, 0xFF}, "junk@16"); }),
                       "junk@16: not a tf.train.Example"));
}

// ---- the synthetic detection dataset ----

TEST(SyntheticDetection, DeterministicBoxesInsideTheImageWithLabelsInRange) {
  SyntheticDetectionOptions o;
  o.size = 50;
  o.height = 24;
  o.width = 32;
  o.num_classes = 5;
  o.max_boxes = 6;
  o.seed = 3;
  const SyntheticDetectionDataset a(o), b(o);
  size_t total = 0, empty = 0;
  std::set<int32_t> labels;
  for (int64_t i = 0; i < 50; ++i) {
    const Sample x = a.read(i), y = b.read(i);
    EXPECT_EQ(x.image.pixels, y.image.pixels);
    EXPECT_EQ(x.annotations, y.annotations);
    EXPECT_EQ(x.annotations.image_id, i);
    EXPECT_EQ(x.image.height, 24);
    EXPECT_EQ(x.image.channels, 3);
    EXPECT_LE(x.annotations.boxes.size(), 6u);
    for (const auto& box : x.annotations.boxes) {
      EXPECT_GE(box.ymin, 0.0f);
      EXPECT_LE(box.ymax, 1.0f);
      EXPECT_GE(box.xmax - box.xmin, 0.0199f);
      EXPECT_GE(box.ymax - box.ymin, 0.0199f);
      labels.insert(box.label);
    }
    total += x.annotations.boxes.size();
    empty += x.annotations.boxes.empty();
  }
  EXPECT_EQ(labels, (std::set<int32_t>{1, 2, 3, 4, 5}));
  EXPECT_GT(total, 100u);
  EXPECT_GT(empty, 0u);
  o.seed = 4;
  EXPECT_NE(SyntheticDetectionDataset(o).read(0).annotations, a.read(0).annotations);
}

}  // namespace
}  // namespace trainer::data
