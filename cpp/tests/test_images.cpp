// Unit tests of the PNG/JPEG decoders (src/image_decode.cpp), run under ASan/UBSan: files written here with
// libpng's and libjpeg's own encoders, then read back whole, truncated, and in foreign formats.
#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <stdexcept>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include <jpeglib.h>
#include <png.h>

#include "image_decode.hpp"
#include "mini_test.hpp"
#include "npy.hpp"

using namespace vgg_deploy;

namespace {

using mini_test::temp_dir;
using mini_test::temp_path;
using mini_test::write_file;

// A w x h image with a gradient in each channel (distinct values, so a swapped channel or row shows).
std::vector<std::uint8_t> gradient(int w, int h, int channels) {
    std::vector<std::uint8_t> pixels(static_cast<std::size_t>(w * h * channels));
    for (int y = 0; y < h; ++y) {
        for (int x = 0; x < w; ++x) {
            for (int c = 0; c < channels; ++c) {
                pixels[static_cast<std::size_t>((y * w + x) * channels + c)] =
                    static_cast<std::uint8_t>((x * 5 + y * 3 + c * 60) % 256);
            }
        }
    }
    return pixels;
}

std::string encode_png(int w, int h, std::uint32_t format, const std::vector<std::uint8_t>& pixels) {
    png_image png;
    std::memset(&png, 0, sizeof png);
    png.version = PNG_IMAGE_VERSION;
    png.width = static_cast<png_uint_32>(w);
    png.height = static_cast<png_uint_32>(h);
    png.format = format;
    png_alloc_size_t size = 0;
    if (!png_image_write_to_memory(&png, nullptr, &size, 0, pixels.data(), 0, nullptr)) {
        throw std::runtime_error("test setup: png size");
    }
    std::string bytes(size, '\0');
    if (!png_image_write_to_memory(&png, &bytes[0], &size, 0, pixels.data(), 0, nullptr)) {
        throw std::runtime_error("test setup: png write");
    }
    bytes.resize(size);
    return bytes;
}

std::string encode_jpeg(int w, int h, int channels, const std::vector<std::uint8_t>& pixels) {
    jpeg_compress_struct cinfo;
    jpeg_error_mgr errors;
    cinfo.err = jpeg_std_error(&errors);
    jpeg_create_compress(&cinfo);
    unsigned char* buffer = nullptr;
    unsigned long size = 0;
    jpeg_mem_dest(&cinfo, &buffer, &size);
    cinfo.image_width = static_cast<JDIMENSION>(w);
    cinfo.image_height = static_cast<JDIMENSION>(h);
    cinfo.input_components = channels;
    cinfo.in_color_space = channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, 95, TRUE);
    jpeg_start_compress(&cinfo, TRUE);
    while (cinfo.next_scanline < cinfo.image_height) {
        JSAMPROW row = const_cast<JSAMPROW>(&pixels[static_cast<std::size_t>(cinfo.next_scanline) *
                                                    static_cast<std::size_t>(w * channels)]);
        jpeg_write_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_compress(&cinfo);
    std::string bytes(reinterpret_cast<char*>(buffer), size);
    jpeg_destroy_compress(&cinfo);
    std::free(buffer);
    return bytes;
}

}  // namespace

TEST(png_gray_and_rgb_decode_exactly) {
    const auto gray = gradient(7, 5, 1);
    write_file(temp_path("g.png"), encode_png(7, 5, PNG_FORMAT_GRAY, gray));
    const Image g = decode_image(temp_path("g.png"));
    CHECK_EQ(g.width, 7);
    CHECK_EQ(g.height, 5);
    CHECK_EQ(g.channels, 1);
    CHECK(g.pixels == gray);

    const auto rgb = gradient(6, 4, 3);
    write_file(temp_path("c.png"), encode_png(6, 4, PNG_FORMAT_RGB, rgb));
    const Image c = decode_image(temp_path("c.png"));
    CHECK_EQ(c.channels, 3);
    CHECK(c.pixels == rgb);
}

TEST(png_alpha_is_dropped_not_composited) {
    auto rgba = gradient(5, 3, 4);
    for (std::size_t i = 3; i < rgba.size(); i += 4) {
        rgba[i] = 0;  // fully transparent: compositing would change the colours, Pillow's convert("RGB") does not
    }
    write_file(temp_path("a.png"), encode_png(5, 3, PNG_FORMAT_RGBA, rgba));
    const Image image = decode_image(temp_path("a.png"));
    CHECK_EQ(image.channels, 3);
    for (std::size_t i = 0; i < 15; ++i) {
        CHECK_EQ(static_cast<int>(image.pixels[3 * i + 1]), static_cast<int>(rgba[4 * i + 1]));
    }
}

TEST(jpeg_gray_and_rgb_decode_close_to_the_source) {
    for (const int channels : {1, 3}) {
        const auto pixels = gradient(16, 16, channels);
        write_file(temp_path("x.jpg"), encode_jpeg(16, 16, channels, pixels));
        const Image image = decode_image(temp_path("x.jpg"));
        CHECK_EQ(image.channels, channels);
        CHECK_EQ(image.width, 16);
        double total = 0;
        for (std::size_t i = 0; i < pixels.size(); ++i) {
            total += std::abs(static_cast<int>(image.pixels[i]) - static_cast<int>(pixels[i]));
        }
        CHECK(total / static_cast<double>(pixels.size()) < 12.0);  // lossy, quality 95
    }
}

TEST(truncated_and_foreign_files_are_input_errors) {
    const std::string png = encode_png(32, 32, PNG_FORMAT_RGB, gradient(32, 32, 3));
    write_file(temp_path("cut.png"), png.substr(0, png.size() / 2));
    CHECK_THROWS(InputError, decode_image(temp_path("cut.png")), "cut.png: not a readable PNG");
    const std::string jpg = encode_jpeg(32, 32, 3, gradient(32, 32, 3));
    write_file(temp_path("cut.jpg"), jpg.substr(0, jpg.size() / 2));
    CHECK_THROWS(InputError, decode_image(temp_path("cut.jpg")), "cut.jpg: not a readable JPEG");
    write_file(temp_path("head.jpg"), jpg.substr(0, 40));
    CHECK_THROWS(InputError, decode_image(temp_path("head.jpg")), "head.jpg: not a readable JPEG");
    write_file(temp_path("text.png"), "just some text, not an image");
    CHECK_THROWS(InputError, decode_image(temp_path("text.png")), "text.png: not a PNG or JPEG image");
    write_file(temp_path("empty.jpg"), "");
    CHECK_THROWS(InputError, decode_image(temp_path("empty.jpg")), "not a PNG or JPEG image");
    CHECK_THROWS(InputError, decode_image(temp_path("missing.png")), "missing.png: cannot open the image");
}

int main(int argc, char** argv) {
    temp_dir() = mini_test::make_temp_dir("vgg_infer_images_");
    const int status = mini_test::run_all(argc > 1 ? argv[1] : "");
    mini_test::remove_dir(temp_dir());
    return status;
}
