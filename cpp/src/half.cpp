#include "half.hpp"

#include <cstring>

namespace vgg_deploy {

std::uint16_t float_to_half(float value) {
    std::uint32_t f;
    std::memcpy(&f, &value, sizeof f);
    const auto sign = static_cast<std::uint16_t>((f >> 16) & 0x8000u);
    const std::uint32_t exponent = (f >> 23) & 0xFFu;
    std::uint32_t mantissa = f & 0x7FFFFFu;

    if (exponent == 0xFFu) {  // infinity or NaN (keep NaN quiet and non-zero)
        return static_cast<std::uint16_t>(sign | 0x7C00u | (mantissa ? 0x200u | (mantissa >> 13) : 0u));
    }
    const int e = static_cast<int>(exponent) - 127 + 15;  // re-biased exponent
    if (e >= 31) {                                        // too large: infinity
        return static_cast<std::uint16_t>(sign | 0x7C00u);
    }
    if (e <= 0) {  // subnormal half or zero
        if (e < -10) {
            return sign;  // below half the smallest subnormal: rounds to zero
        }
        mantissa |= 0x800000u;  // implicit leading bit
        const int shift = 14 - e;
        std::uint32_t half_mantissa = mantissa >> shift;
        const std::uint32_t remainder = mantissa & ((1u << shift) - 1u);
        const std::uint32_t halfway = 1u << (shift - 1);
        if (remainder > halfway || (remainder == halfway && (half_mantissa & 1u))) {
            ++half_mantissa;  // may carry into the smallest normal, which is the right encoding
        }
        return static_cast<std::uint16_t>(sign | half_mantissa);
    }
    std::uint32_t half = (static_cast<std::uint32_t>(e) << 10) | (mantissa >> 13);
    const std::uint32_t remainder = mantissa & 0x1FFFu;
    if (remainder > 0x1000u || (remainder == 0x1000u && (half & 1u))) {
        ++half;  // a carry into the exponent is correct, up to infinity (0x7C00)
    }
    return static_cast<std::uint16_t>(sign | half);
}

float half_to_float(std::uint16_t bits) {
    const std::uint32_t sign = static_cast<std::uint32_t>(bits & 0x8000u) << 16;
    std::uint32_t exponent = (bits >> 10) & 0x1Fu;
    std::uint32_t mantissa = bits & 0x3FFu;
    std::uint32_t f;
    if (exponent == 0x1Fu) {
        f = sign | 0x7F800000u | (mantissa << 13);
    } else if (exponent != 0) {
        f = sign | ((exponent + 127 - 15) << 23) | (mantissa << 13);
    } else if (mantissa == 0) {
        f = sign;
    } else {  // subnormal half: normalize
        exponent = 127 - 15 + 1;
        while ((mantissa & 0x400u) == 0) {
            mantissa <<= 1;
            --exponent;
        }
        f = sign | (exponent << 23) | ((mantissa & 0x3FFu) << 13);
    }
    float value;
    std::memcpy(&value, &f, sizeof value);
    return value;
}

}  // namespace vgg_deploy
