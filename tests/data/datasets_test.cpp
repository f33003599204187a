#include <gtest/gtest.h>

#include <array>
#include <zlib.h>

#include "test_util.h"
#include "trainer/data/idx_dataset.h"
#include "trainer/data/image_folder.h"
#include "trainer/data/synthetic_dataset.h"

namespace trainer::data {
namespace {

using testing::error_of;

using testing::ScratchDir;

TEST(ImageFolder, ClassesSortedByNameFilesFilteredAndSorted) {
  ScratchDir dir;
  const auto png = testing::encode(testing::gradient(4, 4, 3), ".png");
  testing::write_bytes(dir / "zebra/2.png", png);
  testing::write_bytes(dir / "zebra/sub/1.PNG", png);  // recursive, extension case-insensitive
  testing::write_bytes(dir / "apple/b.jpg", png);
  testing::write_bytes(dir / "apple/a.jpeg", png);
  testing::write_bytes(dir / "apple/notes.txt", {1, 2, 3});
  testing::write_bytes(dir / "mango/readme.md", {1});  // a class with no images keeps its id
  const ImageFolderDataset folder(dir.path());
  EXPECT_EQ(folder.class_names(), (std::vector<std::string>{"apple", "mango", "zebra"}));
  ASSERT_EQ(folder.size(), 4);
  EXPECT_EQ(folder.num_classes(), 3);
  EXPECT_EQ(folder.path(0), dir / "apple/a.jpeg");
  EXPECT_EQ(folder.path(1), dir / "apple/b.jpg");
  EXPECT_EQ(folder.path(2), dir / "zebra/2.png");
  EXPECT_EQ(folder.path(3), dir / "zebra/sub/1.PNG");
  EXPECT_EQ(folder.read(3).label, 2);
  EXPECT_EQ(folder.read(3).encoded, png);
}

TEST(ImageFolder, ClearErrors) {
  ScratchDir dir;
  EXPECT_NE(error_of([&] { ImageFolderDataset(dir / "missing"); }).find("does not exist"), std::string::npos);
  EXPECT_NE(error_of([&] { ImageFolderDataset(dir.path()); }).find("no class sub-folders"), std::string::npos);
  testing::write_bytes(dir / "cls/readme.txt", {1});
  const std::string message = error_of([&] { ImageFolderDataset(dir.path()); });
  EXPECT_NE(message.find("no image files"), std::string::npos) << message;
  EXPECT_NE(message.find(dir.path()), std::string::npos) << message;
  // A file that vanished after the scan is an unusable sample, named.
  testing::write_bytes(dir / "cls/x.jpg", {1});
  const ImageFolderDataset folder(dir.path());
  std::filesystem::remove(dir / "cls/x.jpg");
  try {
    folder.read(0);
    FAIL();
  } catch (const BadSampleError& e) {
    EXPECT_NE(std::string(e.what()).find(dir / "cls/x.jpg"), std::string::npos) << e.what();
  }
}

TEST(Idx, FashionMnistSplitsAndLabelHistogram) {
  // Installed by Debian's dataset-fashion-mnist (scripts/install_deps.sh).
  for (const bool train : {true, false}) {
    const IdxDataset data = IdxDataset::fashion_mnist(train);
    ASSERT_EQ(data.size(), train ? 60000 : 10000);
    EXPECT_EQ(data.num_classes(), 10);
    EXPECT_EQ(data.height(), 28);
    EXPECT_EQ(data.width(), 28);
    std::array<int, 10> histogram{};
    for (int64_t i = 0; i < data.size(); ++i) ++histogram[data.read(i).label];
    for (int count : histogram) EXPECT_EQ(count, train ? 6000 : 1000);  // Fashion-MNIST is balanced
    const Sample first = data.read(0);
    EXPECT_EQ(first.image.channels, 1);
    EXPECT_EQ(first.image.pixels.size(), 784u);
    // The published first labels: train starts 9 (ankle boot), 0, 0, 3; test starts 9, 2, 1, 1.
    const std::array<int64_t, 4> expected = train ? std::array<int64_t, 4>{9, 0, 0, 3} : std::array<int64_t, 4>{9, 2, 1, 1};
    for (int i = 0; i < 4; ++i) EXPECT_EQ(data.read(i).label, expected[i]) << i;
  }
}

void write_gz(const std::string& path, const std::vector<uint8_t>& bytes) {
  gzFile file = gzopen(path.c_str(), "wb");
  gzwrite(file, bytes.data(), static_cast<unsigned>(bytes.size()));
  gzclose(file);
}

TEST(Idx, ParsesSmallFilesAndRejectsBadOnes) {
  ScratchDir dir;
  // 2 images of 2x3, labels 4 and 1; the images file gzip'd, the labels file raw.
  write_gz(dir / "img.gz", {0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12});
  testing::write_bytes(dir / "lab", {0, 0, 8, 1, 0, 0, 0, 2, 4, 1});
  const IdxDataset data(dir / "img.gz", dir / "lab");
  ASSERT_EQ(data.size(), 2);
  EXPECT_EQ(data.num_classes(), 5);
  const Sample second = data.read(1);
  EXPECT_EQ(second.label, 1);
  EXPECT_EQ(second.image.height, 2);
  EXPECT_EQ(second.image.width, 3);
  EXPECT_EQ(second.image.pixels, (std::vector<uint8_t>{7, 8, 9, 10, 11, 12}));

  std::string message = error_of([&] { IdxDataset(dir / "lab", dir / "lab"); });  // labels as images
  EXPECT_NE(message.find("magic"), std::string::npos) << message;
  testing::write_bytes(dir / "lab3", {0, 0, 8, 1, 0, 0, 0, 3, 4, 1, 0});
  message = error_of([&] { IdxDataset(dir / "img.gz", dir / "lab3"); });
  EXPECT_NE(message.find("2 images but"), std::string::npos) << message;
  write_gz(dir / "short.gz", {0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3});
  message = error_of([&] { IdxDataset(dir / "short.gz", dir / "lab"); });
  EXPECT_NE(message.find("ends early"), std::string::npos) << message;
  EXPECT_NE(message.find("short.gz"), std::string::npos) << message;

  // Counts that claim far more than the file holds fail where the file ends, without allocating
  // the claim (2^32 - 1 images of 65536 x 65536 would be 2^64 bytes).
  testing::write_bytes(dir / "huge", {0, 0, 8, 3, 0xFF, 0xFF, 0xFF, 0xFF, 0, 1, 0, 0, 0, 1, 0, 0, 1, 2, 3});
  testing::write_bytes(dir / "huge_lab", {0, 0, 8, 1, 0xFF, 0xFF, 0xFF, 0xFF, 4});
  message = error_of([&] { IdxDataset(dir / "huge", dir / "huge_lab"); });
  EXPECT_NE(message.find("ends early while reading the pixels"), std::string::npos) << message;
}

TEST(Synthetic, DeterministicAndInRange) {
  SyntheticOptions options;
  options.size = 100;
  options.height = 5;
  options.width = 7;
  options.num_classes = 3;
  const SyntheticDataset a(options), b(options);
  options.seed = 1;
  const SyntheticDataset other(options);
  for (int64_t i = 0; i < 100; ++i) {
    const Sample x = a.read(i);
    EXPECT_EQ(x.image.pixels, b.read(i).image.pixels);
    EXPECT_EQ(x.label, b.read(i).label);
    EXPECT_GE(x.label, 0);
    EXPECT_LT(x.label, 3);
    EXPECT_NE(x.image.pixels, other.read(i).image.pixels);
    EXPECT_EQ(x.image.pixels.size(), 105u);
  }
  EXPECT_NE(a.read(0).image.pixels, a.read(1).image.pixels);
}

}  // namespace
}  // namespace trainer::data
