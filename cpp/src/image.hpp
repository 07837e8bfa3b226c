// Images as vgg-deploy's Python preprocessing sees them (vgg_deploy/data/preprocess.py, Pillow): 8-bit pixels in
// PIL's "L" or "RGB" mode, Pillow's BILINEAR resize (its 8-bit fixed-point two-pass resampler, antialiased when
// shrinking), the center crop, then scale to [0, 1] and normalize in float32. Runtime-neutral and decoder-neutral:
// decoding PNG/JPEG files is in image_decode.hpp.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model_facts.hpp"

namespace vgg_deploy {

struct Image {
    int width = 0, height = 0;
    int channels = 0;                 // 1 ("L") or 3 ("RGB"), interleaved
    std::vector<std::uint8_t> pixels;  // height * width * channels, row by row
};

// PIL's Image.convert("L") / convert("RGB") between those two modes: RGB -> L is Pillow's
// (R * 19595 + G * 38470 + B * 7471 + 0x8000) >> 16 (ITU-R 601-2 luma, rounded); L -> RGB repeats the value.
Image convert_channels(const Image& image, int channels);

// Pillow's Image.resize((width, height), Image.Resampling.BILINEAR) for 8-bit images: horizontal pass first, each
// pass with the triangle filter widened by the scale factor when shrinking, 22-bit fixed-point weights, rounded
// and clipped to 8 bits in between (libImaging/Resample.c).
Image resize_bilinear(const Image& image, int width, int height);

// preprocess_image(): convert to the model's channels, resize the shorter side to config.resize (enlarged if
// needed to cover the crop), center crop to (height, width), (pixel / 255 - mean) / std in float32. Returns
// channels * height * width values in C order (C, H, W).
std::vector<float> preprocess(const Image& image, const PreprocessConfig& config);

}  // namespace vgg_deploy
