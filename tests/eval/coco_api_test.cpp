// The COCO API: loading (real val2017 annotations and malformed input), the index and
// pycocotools' queries, loadRes, and writing results.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>

#include "trainer/core/error.h"
#include "trainer/eval/coco.h"

using namespace trainer::eval;

namespace {

std::string mini_path() {
  const char* dir = std::getenv("TRAINER_SOURCE_DIR");
  return std::string(dir ? dir : ".") +
         "/tests/eval/data/instances_val2017_mini.json";
}

// The message of the trainer::Error that `body` throws ("" if it does not throw).
template <class Body>
std::string error_of(Body body) {
  try {
    body();
  } catch (const trainer::Error& e) {
    return e.what();
  }
  return "";
}

const char* kSmall = R"({
  "info": {"year": 2017},
  "images": [{"id": 3, "file_name": "c.jpg", "width": 64, "height": 48}, {"id": 1}, {"id": 2},
             {"id": 3, "file_name": "dup.jpg"}],
  "categories": [{"id": 7, "name": "cat", "supercategory": "animal"},
                 {"id": 5, "name": "car", "supercategory": "vehicle"},
                 {"id": 9, "name": "dog", "supercategory": "animal"}],
  "annotations": [
    {"id": 10, "image_id": 3, "category_id": 7, "bbox": [0, 0, 10, 10], "area": 100, "iscrowd": 0},
    {"id": 11, "image_id": 1, "category_id": 5, "bbox": [0, 0, 40, 40], "area": 1600, "iscrowd": 1},
    {"id": 12, "image_id": 3, "category_id": 5, "bbox": [5, 5, 20, 20], "area": 400, "iscrowd": 0,
     "segmentation": [[1, 2, 3, 4]], "ignore": 1},
    {"id": 10, "image_id": 2, "category_id": 7, "bbox": [1, 1, 2, 2], "area": 4, "iscrowd": false},
    {"id": 13, "image_id": 42, "category_id": 9, "bbox": [1, 1, 2, 2], "area": 4, "iscrowd": true}
  ]})";

TEST(CocoApi, LoadsRealVal2017Annotations) {
  CocoDataset gt = CocoDataset::load(mini_path());
  EXPECT_EQ(gt.images().size(), 4u);
  EXPECT_EQ(gt.annotations().size(), 45u);
  EXPECT_EQ(gt.categories().size(), 80u);
  EXPECT_EQ(gt.image_annotations(17627).size(), 16u);
  EXPECT_EQ(gt.image_annotations(480985).size(), 13u);
  EXPECT_EQ(gt.image_annotations(174482).size(), 12u);
  EXPECT_EQ(gt.get_ann_ids(std::vector<int64_t>{289393}),
            (std::vector<int64_t>{39398, 597757, 1408605, 1610803}));
  EXPECT_EQ(gt.get_ann_ids({}, std::vector<int64_t>{1}).size(), 12u);  // person
  EXPECT_EQ(gt.get_img_ids({}, std::vector<int64_t>{3}), (std::vector<int64_t>{17627, 174482}));
  EXPECT_EQ(gt.get_img_ids({}, std::vector<int64_t>{1, 3}), (std::vector<int64_t>{17627}));
  EXPECT_EQ(gt.get_cat_ids(std::vector<std::string>{"car", "person"}), (std::vector<int64_t>{1, 3}));
  EXPECT_EQ(gt.get_cat_ids({}, std::vector<std::string>{"vehicle"}).size(), 8u);
  EXPECT_EQ(gt.image(289393).width, 640);
  // Exclusive range ends in getAnnIds: 24 annotations have area < 1024, 14 are strictly inside.
  EXPECT_EQ(gt.get_ann_ids({}, {}, std::array<double, 2>{0, 1024}).size(), 24u);
  EXPECT_EQ(gt.get_ann_ids({}, {}, std::array<double, 2>{1024, 9216}).size(), 14u);
}

TEST(CocoApi, IndexFollowsPycocotools) {
  CocoDataset gt = CocoDataset::parse(kSmall, "small.json");
  // Every image id once, in first-appearance order; the last duplicate entry wins.
  EXPECT_EQ(gt.get_img_ids(), (std::vector<int64_t>{3, 1, 2}));
  EXPECT_EQ(gt.image(3).file_name, "dup.jpg");
  // imgToAnns in file order, for the ids in the order given (unknown ids contribute nothing).
  EXPECT_EQ(gt.get_ann_ids(std::vector<int64_t>{3, 99, 2, 42}),
            (std::vector<int64_t>{10, 12, 10, 13}));
  EXPECT_EQ(gt.get_ann_ids({}, std::vector<int64_t>{5}), (std::vector<int64_t>{11, 12}));
  EXPECT_EQ(gt.get_ann_ids({}, {}, {}, true), (std::vector<int64_t>{11, 13}));
  EXPECT_EQ(gt.get_ann_ids({}, {}, {}, false), (std::vector<int64_t>{10, 12, 10}));
  EXPECT_EQ(gt.get_ann_ids({}, {}, std::array<double, 2>{4, 400}), (std::vector<int64_t>{10}));
  // A duplicated annotation id names the last annotation with it (pycocotools' anns dict).
  std::vector<const CocoAnnotation*> anns = gt.load_anns(std::vector<int64_t>{10, 12});
  EXPECT_EQ(anns[0]->image_id, 2);
  EXPECT_TRUE(gt.annotation(11).iscrowd);
  EXPECT_NE(error_of([&] { gt.annotation(99); }).find("no annotation with id 99"), std::string::npos);
  // getImgIds: given ids are kept even when unknown; categories intersect.
  EXPECT_EQ(gt.get_img_ids(std::vector<int64_t>{5, 1}), (std::vector<int64_t>{1, 5}));
  EXPECT_EQ(gt.get_img_ids({}, std::vector<int64_t>{7}), (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(gt.get_img_ids(std::vector<int64_t>{3, 2}, std::vector<int64_t>{7, 5}),
            (std::vector<int64_t>{3}));
  EXPECT_EQ(gt.get_cat_ids(), (std::vector<int64_t>{7, 5, 9}));
  EXPECT_EQ(gt.get_cat_ids({}, std::vector<std::string>{"animal"}, std::vector<int64_t>{9, 5}),
            (std::vector<int64_t>{9}));
}

TEST(CocoApi, LoadResAssignsIdsAreasAndChecksImages) {
  CocoDataset gt = CocoDataset::parse(kSmall, "small.json");
  std::vector<Detection> dets = {{3, 7, {1, 2, 3.5, 4}, 0.5}, {1, 99, {0, 0, 0, 7}, 0}};
  testing::internal::CaptureStderr();  // the zero-width box is warned about (OddBoxes...)
  CocoDataset res = gt.load_res(dets);
  testing::internal::GetCapturedStderr();
  ASSERT_TRUE(res.is_results());
  ASSERT_EQ(res.annotations().size(), 2u);
  EXPECT_EQ(res.annotations()[0].id, 1);
  EXPECT_EQ(res.annotations()[1].id, 2);
  EXPECT_EQ(res.annotations()[0].area, 14.0);
  EXPECT_EQ(res.annotations()[1].area, 0.0);
  EXPECT_FALSE(res.annotations()[0].iscrowd);
  EXPECT_EQ(res.images().size(), gt.images().size());
  EXPECT_EQ(res.get_cat_ids(), gt.get_cat_ids());

  dets.push_back({77, 7, {0, 0, 1, 1}, 0.5});
  dets.push_back({78, 7, {0, 0, 1, 1}, 0.5});
  EXPECT_EQ(error_of([&] { gt.load_res(dets, "dt.json"); }),
            "dt.json: detections[2].image_id 77 is not an image of the annotations (2 detections "
            "name images outside the annotations; pycocotools: 'Results do not correspond to "
            "current coco set')");
  // Stricter than pycocotools, which silently ranks NaN last.
  EXPECT_NE(error_of([&] { gt.load_res(std::vector<Detection>{{3, 7, {0, 0, 1, 1}, -0.1}}); })
                .find("detections[0].score: expected a finite number >= 0, got -0.1"),
            std::string::npos);
  EXPECT_NE(error_of([&] { gt.load_res(std::vector<Detection>{{3, 7, {0, 0, 1, 1}, NAN}}); })
                .find("detections[0].score"),
            std::string::npos);
  EXPECT_NE(error_of([&] { gt.load_res(std::vector<Detection>{{3, 7, {INFINITY, 0, 2, 1}, 0.3}}); })
                .find("non-finite"),
            std::string::npos);
  // In memory an empty list is fine (a model may detect nothing).
  EXPECT_TRUE(gt.load_res(std::vector<Detection>{}).annotations().empty());
}

// pycocotools evaluates boxes with a zero or negative width or height as they are; so do we,
// with one warning per file that counts them and names the first.
TEST(CocoApi, OddBoxesAreKeptWithOneWarningPerFile) {
  const std::string gt_text = R"({"images": [{"id": 1}, {"id": 2}], "categories": [{"id": 1}],
    "annotations": [
      {"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "area": 100, "iscrowd": 0},
      {"id": 2, "image_id": 1, "category_id": 1, "bbox": [10, 20, -30, 40], "area": 1200, "iscrowd": 0},
      {"id": 3, "image_id": 2, "category_id": 1, "bbox": [-5, -6, 0, 1e30], "area": 0, "iscrowd": 1},
      {"id": 4, "image_id": 2, "category_id": 1, "bbox": [1, 2, -0.5, -0.25], "area": -3, "iscrowd": 0},
      {"id": 5, "image_id": 2, "category_id": 1, "bbox": [1e30, 2, 1e30, 1e30], "area": 1e60, "iscrowd": 0}
    ]})";
  testing::internal::CaptureStderr();
  CocoDataset gt = CocoDataset::parse(gt_text, "gt.json");
  EXPECT_EQ(testing::internal::GetCapturedStderr(),
            "warning: gt.json: 3 boxes have a zero or negative width or height (the first: "
            "annotations[1].bbox [10, 20, -30, 40]); evaluated as pycocotools does: such a box "
            "overlaps nothing (IoU 0 with any box)\n");
  ASSERT_EQ(gt.annotations().size(), 5u);
  EXPECT_EQ(gt.annotations()[1].bbox.w, -30);
  EXPECT_EQ(gt.annotations()[2].bbox.w, 0);
  EXPECT_EQ(gt.annotations()[3].bbox.h, -0.25);
  EXPECT_EQ(gt.annotations()[3].area, -3);  // the file's area, as always

  // Detections: area = w * h, negative for one negative side (pycocotools' loadRes).
  testing::internal::CaptureStderr();
  CocoDataset dt = gt.load_res(
      parse_detections(R"([{"image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "score": 0.9},
                           {"image_id": 2, "category_id": 1, "bbox": [3, 4, 5, -6], "score": 0.8}])",
                       "dt.json"),
      "dt.json");
  EXPECT_EQ(testing::internal::GetCapturedStderr(),
            "warning: dt.json: 1 box has a zero or negative width or height (detections[1].bbox "
            "[3, 4, 5, -6]); evaluated as pycocotools does: such a box overlaps nothing (IoU 0 "
            "with any box)\n");
  ASSERT_EQ(dt.annotations().size(), 2u);
  EXPECT_EQ(dt.annotations()[1].area, -30.0);
  EXPECT_EQ(dt.annotations()[1].bbox.h, -6);

  // Nothing odd, nothing said; a huge box is not odd.
  testing::internal::CaptureStderr();
  gt.load_res(std::vector<Detection>{{2, 1, {1e30, 2, 1e30, 1e30}, 0.5}});
  CocoDataset::load(mini_path());
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "");
}

TEST(CocoApi, ResultsRoundTripThroughJson) {
  std::vector<Detection> dets = {
      {1, 2, {0.1, 0.2, 0.30000000000000004, 1e-300}, 0.7000000000000001},
      {-5, 9007199254740993, {123456.789, 5e-324, 1.7976931348623157e308, 3}, 1},
      {0, 0, {0, 0, 0, 0}, 0}};
  std::vector<Detection> back = parse_detections(detections_to_json(dets));
  ASSERT_EQ(back.size(), dets.size());
  for (size_t i = 0; i < dets.size(); ++i) {
    EXPECT_EQ(back[i].image_id, dets[i].image_id);
    EXPECT_EQ(back[i].category_id, dets[i].category_id);
    EXPECT_EQ(back[i].score, dets[i].score);
    EXPECT_EQ(back[i].bbox.x, dets[i].bbox.x);
    EXPECT_EQ(back[i].bbox.y, dets[i].bbox.y);
    EXPECT_EQ(back[i].bbox.w, dets[i].bbox.w);
    EXPECT_EQ(back[i].bbox.h, dets[i].bbox.h);
  }
  // Shortest round-trip digits, as Python's repr writes them.
  EXPECT_NE(detections_to_json(dets).find("[0.1, 0.2, 0.30000000000000004, 1e-300]"),
            std::string::npos);
}

TEST(CocoApi, NumbersParseCorrectlyRounded) {
  std::vector<Detection> dets = parse_detections(
      R"([{"image_id": 1.0, "category_id": 2, "score": 1e-1,
           "bbox": [0.1000000000000000055511151231257827, 2.5E+1, 9007199254740993, 1e-320]}])");
  ASSERT_EQ(dets.size(), 1u);
  EXPECT_EQ(dets[0].image_id, 1);
  EXPECT_EQ(dets[0].score, 0.1);
  EXPECT_EQ(dets[0].bbox.x, 0.1);
  EXPECT_EQ(dets[0].bbox.y, 25.0);
  EXPECT_EQ(dets[0].bbox.w, 9007199254740992.0);  // 2^53 + 1 rounds to even
  EXPECT_EQ(dets[0].bbox.h, 1e-320);
}

TEST(CocoApi, MalformedJsonSaysWhere) {
  // The second comma: line 2, column 16.
  EXPECT_EQ(error_of([] { CocoDataset::parse("{\n  \"images\": [1,,2]\n}", "gt.json"); }),
            "gt.json:2:16: invalid JSON: The JSON document has an improper structure: missing or "
            "superfluous commas, braces, missing keys, etc (byte offset 17)");
  EXPECT_NE(error_of([] { parse_detections("[{\"score\": 1.5e}]", "dt.json"); })
                .find("dt.json:1:12: invalid JSON: Problem while parsing a number"),
            std::string::npos);
  EXPECT_NE(error_of([] { parse_detections("[\n{\"a\": \"open}]", "dt.json"); })
                .find("dt.json:2:7: invalid JSON: A string is opened, but never closed"),
            std::string::npos);
  EXPECT_NE(error_of([] { parse_detections("[1]\n  x", "dt.json"); }).find("dt.json:2:3: invalid JSON"),
            std::string::npos);
  EXPECT_NE(error_of([] { parse_detections("", "dt.json"); }).find("dt.json: invalid JSON: Empty"),
            std::string::npos);
  EXPECT_NE(error_of([] { CocoDataset::load("/nonexistent/gt.json"); })
                .find("cannot open /nonexistent/gt.json: No such file or directory"),
            std::string::npos);
}

TEST(CocoApi, WrongContentNamesTheElement) {
  auto gt_error = [](const std::string& annotation) {
    return error_of([&] {
      CocoDataset::parse(R"({"images": [{"id": 1}], "categories": [{"id": 1}], "annotations": [)" +
                             annotation + "]}",
                         "gt.json");
    });
  };
  const std::string ok = R"("id": 1, "image_id": 1, "category_id": 1, "area": 4)";
  EXPECT_EQ(gt_error("{" + ok + R"(, "bbox": [0, 0, 2, 2]})"),
            "gt.json: annotations[0]: missing required field 'iscrowd'");
  EXPECT_EQ(gt_error("{" + ok + R"(, "iscrowd": 0, "bbox": [0, 0, 2]})"),
            "gt.json: annotations[0].bbox: expected [x, y, w, h], got 3 numbers");
  EXPECT_EQ(gt_error("{" + ok + R"(, "iscrowd": 0, "bbox": [0, 0, "2", 2]})"),
            "gt.json: annotations[0].bbox: expected a number, got a string");
  EXPECT_EQ(gt_error("{" + ok + R"(, "iscrowd": 2, "bbox": [0, 0, 2, 2]})"),
            "gt.json: annotations[0].iscrowd: expected 0 or 1");
  EXPECT_EQ(gt_error(R"({"id": "a1", "image_id": 1})"),
            "gt.json: annotations[0].id: expected an integer id, got a string");
  EXPECT_EQ(gt_error(R"({"id": 1.5})"), "gt.json: annotations[0].id: id 1.5 is not an integer");
  EXPECT_EQ(gt_error(R"({"id": 18446744073709551615})"),
            "gt.json: annotations[0].id: id 18446744073709551615 is out of the int64 range");
  EXPECT_EQ(gt_error("[]"), "gt.json: annotations[0]: expected an object, got an array");
  EXPECT_EQ(error_of([] { CocoDataset::parse(R"({"images": [], "annotations": []})", "gt.json"); }),
            "gt.json: missing top-level 'categories' array");
  EXPECT_EQ(error_of([] { CocoDataset::parse("[]", "gt.json"); }),
            "gt.json: expected an instances JSON object with 'images', 'annotations' and "
            "'categories', got an array (is this a results file?)");
  EXPECT_EQ(error_of([] { parse_detections(R"({"images": []})", "dt.json"); }),
            "dt.json: detections must be a JSON array of {image_id, category_id, bbox, score}, "
            "got an object (is this an annotations file?)");
  EXPECT_EQ(error_of([] { parse_detections(R"([{"image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1]}])", "dt.json"); }),
            "dt.json: detections[0]: missing required field 'score'");
  EXPECT_EQ(error_of([] { parse_detections(R"([{"image_id": 1, "category_id": 1, "segmentation": {}, "score": 1}])", "dt.json"); }),
            "dt.json: detections[0]: missing required field 'bbox' (only bbox results are supported)");
}

TEST(CocoApi, LaterDuplicateKeysWin) {
  // Python's json keeps the last value of a repeated key.
  std::vector<Detection> dets = parse_detections(
      R"([{"image_id": 1, "image_id": 2, "category_id": 1, "bbox": [0, 0, 1, 1], "score": 0.1, "score": 0.2}])");
  EXPECT_EQ(dets[0].image_id, 2);
  EXPECT_EQ(dets[0].score, 0.2);
}

}  // namespace
