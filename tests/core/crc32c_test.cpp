#include "trainer/core/crc32c.h"

#include <gtest/gtest.h>

#include <string>

namespace trainer {
namespace {

TEST(Crc32c, KnownAnswer) {
  const std::string check = "123456789";
  EXPECT_EQ(crc32c(check.data(), check.size()), 0xE3069283u);
  EXPECT_EQ(crc32c_portable(check.data(), check.size()), 0xE3069283u);
  EXPECT_EQ(crc32c(nullptr, 0), 0u);
}

// RFC 3720 (iSCSI) B.4 test vectors: 32 bytes of zeros, of 0xFF, and ascending 0..31.
TEST(Crc32c, IscsiVectors) {
  uint8_t zeros[32] = {}, ones[32], ascending[32];
  for (int i = 0; i < 32; ++i) {
    ones[i] = 0xFF;
    ascending[i] = static_cast<uint8_t>(i);
  }
  EXPECT_EQ(crc32c(zeros, 32), 0x8A9136AAu);
  EXPECT_EQ(crc32c(ones, 32), 0x62A8AB43u);
  EXPECT_EQ(crc32c(ascending, 32), 0x46DD794Eu);
}

TEST(Crc32c, HardwareAndTableAgreeAndChain) {
  std::string data;
  for (int i = 0; i < 1000; ++i) data.push_back(static_cast<char>(i * 131 + 7));
  for (size_t n : {0, 1, 7, 8, 9, 63, 1000}) {
    EXPECT_EQ(crc32c(data.data(), n), crc32c_portable(data.data(), n)) << n;
    // Feeding the bytes in two pieces gives the CRC of the whole.
    for (size_t split : {size_t{0}, n / 3, n}) {
      const uint32_t first = crc32c(data.data(), split);
      EXPECT_EQ(crc32c(data.data() + split, n - split, first), crc32c(data.data(), n)) << n << " " << split;
    }
  }
}

TEST(Crc32c, MaskIsTensorFlows) {
  // TensorFlow's masked CRC: rotate right 15, add 0xa282ead8.
  EXPECT_EQ(mask_crc32c(0), 0xa282ead8u);
  EXPECT_EQ(mask_crc32c(0xE3069283u), ((0xE3069283u >> 15) | (0xE3069283u << 17)) + 0xa282ead8u);
  EXPECT_NE(mask_crc32c(1), mask_crc32c(2));
}

}  // namespace
}  // namespace trainer
