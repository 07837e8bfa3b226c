#include "image.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace vgg_deploy {
namespace {

constexpr int kPrecisionBits = 32 - 8 - 2;  // Pillow's PRECISION_BITS for 8-bit images

// Pillow's precompute_coeffs() with the bilinear (triangle) filter, support 1, then normalize_coeffs_8bpc().
struct Coefficients {
    int taps = 0;                  // ksize
    std::vector<int> first, count;  // per output pixel: the first input pixel and how many are used
    std::vector<std::int32_t> weights;  // per output pixel, `taps` fixed-point weights
};

Coefficients coefficients(int in_size, int out_size) {
    const double scale = static_cast<double>(in_size) / out_size;
    const double filterscale = std::max(scale, 1.0);
    const double support = 1.0 * filterscale;
    Coefficients c;
    c.taps = static_cast<int>(std::ceil(support)) * 2 + 1;
    c.first.resize(static_cast<std::size_t>(out_size));
    c.count.resize(static_cast<std::size_t>(out_size));
    c.weights.assign(static_cast<std::size_t>(out_size) * static_cast<std::size_t>(c.taps), 0);
    std::vector<double> k(static_cast<std::size_t>(c.taps));
    for (int xx = 0; xx < out_size; ++xx) {
        const double center = (xx + 0.5) * scale;
        const double ss = 1.0 / filterscale;
        // (int) truncates toward zero, as in Pillow's C code
        const int xmin = std::max(static_cast<int>(center - support + 0.5), 0);
        const int xmax = std::min(static_cast<int>(center + support + 0.5), in_size) - xmin;
        double ww = 0.0;
        for (int x = 0; x < xmax; ++x) {
            double t = std::fabs((x + xmin - center + 0.5) * ss);
            const double w = t < 1.0 ? 1.0 - t : 0.0;
            k[static_cast<std::size_t>(x)] = w;
            ww += w;
        }
        for (int x = 0; x < xmax; ++x) {
            double w = ww != 0.0 ? k[static_cast<std::size_t>(x)] / ww : k[static_cast<std::size_t>(x)];
            w *= (1 << kPrecisionBits);
            c.weights[static_cast<std::size_t>(xx) * static_cast<std::size_t>(c.taps) + static_cast<std::size_t>(x)] =
                static_cast<std::int32_t>(w < 0 ? -0.5 + w : 0.5 + w);
        }
        c.first[static_cast<std::size_t>(xx)] = xmin;
        c.count[static_cast<std::size_t>(xx)] = xmax;
    }
    return c;
}

std::uint8_t clip8(std::int64_t value) {
    const std::int64_t v = value >> kPrecisionBits;
    return static_cast<std::uint8_t>(v < 0 ? 0 : (v > 255 ? 255 : v));
}

Image resample_horizontal(const Image& in, int width) {
    const Coefficients c = coefficients(in.width, width);
    Image out{width, in.height, in.channels, {}};
    const std::size_t ch = static_cast<std::size_t>(in.channels);
    out.pixels.resize(static_cast<std::size_t>(width) * static_cast<std::size_t>(in.height) * ch);
    for (int y = 0; y < in.height; ++y) {
        const std::uint8_t* row = &in.pixels[static_cast<std::size_t>(y) * static_cast<std::size_t>(in.width) * ch];
        std::uint8_t* dst = &out.pixels[static_cast<std::size_t>(y) * static_cast<std::size_t>(width) * ch];
        for (int xx = 0; xx < width; ++xx) {
            const std::int32_t* k = &c.weights[static_cast<std::size_t>(xx) * static_cast<std::size_t>(c.taps)];
            const int xmin = c.first[static_cast<std::size_t>(xx)], n = c.count[static_cast<std::size_t>(xx)];
            for (std::size_t b = 0; b < ch; ++b) {
                std::int64_t sum = 1 << (kPrecisionBits - 1);
                for (int x = 0; x < n; ++x) {
                    sum += static_cast<std::int64_t>(row[static_cast<std::size_t>(x + xmin) * ch + b]) * k[x];
                }
                dst[static_cast<std::size_t>(xx) * ch + b] = clip8(sum);
            }
        }
    }
    return out;
}

Image resample_vertical(const Image& in, int height) {
    const Coefficients c = coefficients(in.height, height);
    Image out{in.width, height, in.channels, {}};
    const std::size_t stride = static_cast<std::size_t>(in.width) * static_cast<std::size_t>(in.channels);
    out.pixels.resize(stride * static_cast<std::size_t>(height));
    for (int yy = 0; yy < height; ++yy) {
        const std::int32_t* k = &c.weights[static_cast<std::size_t>(yy) * static_cast<std::size_t>(c.taps)];
        const int ymin = c.first[static_cast<std::size_t>(yy)], n = c.count[static_cast<std::size_t>(yy)];
        std::uint8_t* dst = &out.pixels[static_cast<std::size_t>(yy) * stride];
        for (std::size_t i = 0; i < stride; ++i) {
            std::int64_t sum = 1 << (kPrecisionBits - 1);
            for (int y = 0; y < n; ++y) {
                sum += static_cast<std::int64_t>(in.pixels[static_cast<std::size_t>(y + ymin) * stride + i]) * k[y];
            }
            dst[i] = clip8(sum);
        }
    }
    return out;
}

void check_image(const Image& image) {
    if (image.width < 1 || image.height < 1 || (image.channels != 1 && image.channels != 3) ||
        image.pixels.size() != static_cast<std::size_t>(image.width) * static_cast<std::size_t>(image.height) *
                                    static_cast<std::size_t>(image.channels)) {
        throw std::invalid_argument("image: inconsistent width/height/channels/pixels");
    }
}

}  // namespace

Image convert_channels(const Image& image, int channels) {
    check_image(image);
    if (channels == image.channels) {
        return image;
    }
    Image out{image.width, image.height, channels, {}};
    const std::size_t n = static_cast<std::size_t>(image.width) * static_cast<std::size_t>(image.height);
    out.pixels.resize(n * static_cast<std::size_t>(channels));
    if (channels == 3) {
        for (std::size_t i = 0; i < n; ++i) {
            out.pixels[3 * i] = out.pixels[3 * i + 1] = out.pixels[3 * i + 2] = image.pixels[i];
        }
    } else if (channels == 1) {
        for (std::size_t i = 0; i < n; ++i) {
            const std::uint32_t l = image.pixels[3 * i] * 19595u + image.pixels[3 * i + 1] * 38470u +
                                    image.pixels[3 * i + 2] * 7471u + 0x8000u;
            out.pixels[i] = static_cast<std::uint8_t>(l >> 16);
        }
    } else {
        throw std::invalid_argument("convert_channels: 1 or 3 channels, not " + std::to_string(channels));
    }
    return out;
}

Image resize_bilinear(const Image& image, int width, int height) {
    check_image(image);
    if (width < 1 || height < 1) {
        throw std::invalid_argument("resize_bilinear: the size must be positive");
    }
    Image out = image;
    if (width != image.width) {
        out = resample_horizontal(out, width);
    }
    if (height != image.height) {
        out = resample_vertical(out, height);
    }
    return out;
}

std::vector<float> preprocess(const Image& image, const PreprocessConfig& config) {
    Image img = convert_channels(image, config.channels);
    const int crop_h = config.height, crop_w = config.width;
    const double w = img.width, h = img.height;
    const double scale = std::max({config.resize / std::min(w, h), crop_h / h, crop_w / w});
    // Python's round() rounds ties to even, as nearbyint does in the default rounding mode.
    const int new_w = std::max(crop_w, static_cast<int>(std::nearbyint(w * scale)));
    const int new_h = std::max(crop_h, static_cast<int>(std::nearbyint(h * scale)));
    if (new_w != img.width || new_h != img.height) {
        img = resize_bilinear(img, new_w, new_h);
    }
    const int top = static_cast<int>(std::nearbyint((new_h - crop_h) / 2.0));
    const int left = static_cast<int>(std::nearbyint((new_w - crop_w) / 2.0));
    const std::size_t c_count = static_cast<std::size_t>(config.channels);
    const std::size_t plane = static_cast<std::size_t>(crop_h) * static_cast<std::size_t>(crop_w);
    std::vector<float> out(c_count * plane);
    for (std::size_t c = 0; c < c_count; ++c) {
        for (int y = 0; y < crop_h; ++y) {
            for (int x = 0; x < crop_w; ++x) {
                const std::size_t src = (static_cast<std::size_t>(y + top) * static_cast<std::size_t>(img.width) +
                                         static_cast<std::size_t>(x + left)) * c_count + c;
                // float32 throughout, as numpy: (array / 255.0 - mean) / std with float32 arrays
                const float v = static_cast<float>(img.pixels[src]) / 255.0f;
                out[c * plane + static_cast<std::size_t>(y) * static_cast<std::size_t>(crop_w) +
                    static_cast<std::size_t>(x)] = (v - config.mean[c]) / config.std[c];
            }
        }
    }
    return out;
}

}  // namespace vgg_deploy
