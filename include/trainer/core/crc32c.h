// CRC-32C (Castagnoli), for TFRecord framing and the checkpoints' payload checksum. Debian 12
// ships no packaged crc32c library (libcrc32c-dev arrives after bookworm), so this is ours: the
// SSE4.2 instruction when the build targets it, a table otherwise; both are tested against the
// known answer.
#pragma once

#include <cstddef>
#include <cstdint>

namespace trainer {

// crc: the CRC of the bytes before `data` (0 to start), so long inputs can be fed in pieces.
uint32_t crc32c(const void* data, size_t size, uint32_t crc = 0);
// The table version, always available (the hardware path is checked against it).
uint32_t crc32c_portable(const void* data, size_t size, uint32_t crc = 0);

// TFRecord stores "masked" CRCs, so that a CRC of data that itself contains CRCs stays well
// spread: rotate right by 15 and add a constant.
inline uint32_t mask_crc32c(uint32_t crc) { return ((crc >> 15) | (crc << 17)) + 0xa282ead8u; }

}  // namespace trainer
