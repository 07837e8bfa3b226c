// IEEE 754 binary16 <-> float32 on the host, for engines whose input or output tensor is FP16 (an ONNX converted
// with `vgg-deploy quantize` without keeping fp32 I/O types).
#pragma once

#include <cstdint>

namespace vgg_deploy {

// Rounds to nearest, ties to even; overflow gives +-infinity, NaN stays NaN.
std::uint16_t float_to_half(float value);
float half_to_float(std::uint16_t bits);

}  // namespace vgg_deploy
