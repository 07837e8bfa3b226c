// PNG and JPEG files -> Image (image.hpp), with the system's libpng and libjpeg (libjpeg-turbo), the libraries
// Pillow itself wraps, so the pixels match what vgg-deploy's Python side decodes.
#pragma once

#include <string>

#include "image.hpp"

namespace vgg_deploy {

// Decodes a PNG or JPEG file, told apart by its first bytes (not its name), to 8-bit "L" (grayscale sources) or
// "RGB" (everything else), as Pillow opens them: alpha is dropped (convert("RGB") ignores it), palettes are
// expanded, 16-bit PNG samples are reduced to 8 bits. Throws InputError naming the file for anything that is not a
// readable PNG/JPEG (another format, truncated data, CMYK JPEG, more than Pillow's 178,956,970-pixel limit).
Image decode_image(const std::string& path);

}  // namespace vgg_deploy
