#include "image_decode.hpp"

// libjpeg's header needs size_t and FILE declared first.
#include <csetjmp>
#include <cstdio>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <utility>
#include <vector>

#include <jpeglib.h>
#include <jerror.h>  // JWRN_JPEG_EOF
#include <png.h>

#include "npy.hpp"

namespace vgg_deploy {
namespace {

// Pillow refuses images over twice Image.MAX_IMAGE_PIXELS (DecompressionBombError); so do we, before allocating.
constexpr unsigned long long kMaxPixels = 2ull * 89478485ull;
constexpr std::size_t kMaxFileBytes = std::size_t{1} << 30;

std::string read_bytes(const std::string& path) {
    std::ifstream file(path, std::ios::binary | std::ios::ate);
    if (!file) {
        throw InputError(path + ": cannot open the image (" + std::strerror(errno) + ")");
    }
    const std::streamoff size = file.tellg();
    if (size < 0 || static_cast<unsigned long long>(size) > kMaxFileBytes) {
        throw InputError(path + ": cannot read the image (larger than 1 GiB?)");
    }
    file.seekg(0);
    std::string bytes(static_cast<std::size_t>(size), '\0');
    if (size > 0 && !file.read(&bytes[0], size)) {
        throw InputError(path + ": could not read the image");
    }
    return bytes;
}

void check_size(const std::string& path, unsigned long long width, unsigned long long height) {
    if (width == 0 || height == 0) {
        throw InputError(path + ": the image has no pixels");
    }
    if (width * height > kMaxPixels) {
        throw InputError(path + ": " + std::to_string(width) + "x" + std::to_string(height) +
                         " pixels is more than the 178,956,970 Pillow accepts (a decompression bomb?)");
    }
}

Image decode_png(const std::string& path, const std::string& bytes) {
    png_image png;
    std::memset(&png, 0, sizeof png);
    png.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_memory(&png, bytes.data(), bytes.size())) {
        throw InputError(path + ": not a readable PNG (" + png.message + ")");
    }
    try {
        check_size(path, png.width, png.height);
    } catch (...) {
        png_image_free(&png);
        throw;
    }
    // Ask for the source's own colour type with alpha, so libpng never composites alpha onto a background or
    // mixes RGB to gray (Pillow drops alpha and converts RGB -> L itself, convert_channels does the same).
    const bool color = (png.format & PNG_FORMAT_FLAG_COLOR) != 0;
    png.format = color ? PNG_FORMAT_RGBA : PNG_FORMAT_GA;
    const int in_channels = color ? 4 : 2;
    Image image{static_cast<int>(png.width), static_cast<int>(png.height), color ? 3 : 1, {}};
    std::vector<std::uint8_t> buffer(PNG_IMAGE_SIZE(png));
    if (!png_image_finish_read(&png, nullptr, buffer.data(), 0, nullptr)) {
        const std::string message = png.message;
        png_image_free(&png);
        throw InputError(path + ": not a readable PNG (" + message + "; truncated or corrupt?)");
    }
    const std::size_t count = static_cast<std::size_t>(image.width) * static_cast<std::size_t>(image.height);
    image.pixels.resize(count * static_cast<std::size_t>(image.channels));
    for (std::size_t i = 0; i < count; ++i) {
        for (int c = 0; c < image.channels; ++c) {
            image.pixels[i * static_cast<std::size_t>(image.channels) + static_cast<std::size_t>(c)] =
                buffer[i * static_cast<std::size_t>(in_channels) + static_cast<std::size_t>(c)];
        }
    }
    return image;
}

// libjpeg reports errors through error_exit, which must not return: jump back to decode_jpeg's setjmp. Only
// plain C objects live between the setjmp and a longjmp (nothing with a destructor is skipped).
struct JpegErrors {
    jpeg_error_mgr manager;
    std::jmp_buf jump;
    char message[JMSG_LENGTH_MAX];
};

void on_jpeg_error(j_common_ptr cinfo) {
    auto* errors = reinterpret_cast<JpegErrors*>(cinfo->err);
    (*cinfo->err->format_message)(cinfo, errors->message);
    std::longjmp(errors->jump, 1);
}

// Warnings are not printed; a file that ends early is an error (libjpeg would pad it with gray; Pillow refuses
// it: "image file is truncated").
void on_jpeg_message(j_common_ptr cinfo, int level) {
    if (level == -1 && cinfo->err->msg_code == JWRN_JPEG_EOF) {
        on_jpeg_error(cinfo);
    }
}

struct JpegResult {
    unsigned width = 0, height = 0;
    int channels = 0;
    bool cmyk = false;
};

// False (with errors->message) when libjpeg failed. `pixels` belongs to the caller, so a longjmp out of libjpeg
// skips no destructor here.
bool decode_jpeg_c(const unsigned char* data, unsigned long size, JpegErrors* errors, JpegResult* result,
                   std::vector<std::uint8_t>* pixels) {
    jpeg_decompress_struct cinfo;
    cinfo.err = jpeg_std_error(&errors->manager);
    errors->manager.error_exit = on_jpeg_error;
    errors->manager.emit_message = on_jpeg_message;
    if (setjmp(errors->jump)) {
        jpeg_destroy_decompress(&cinfo);
        return false;
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, data, size);
    jpeg_read_header(&cinfo, TRUE);
    if (cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK) {
        result->cmyk = true;
        jpeg_destroy_decompress(&cinfo);
        return true;
    }
    // Pillow opens a grayscale JPEG as "L" and any other as "RGB" (libjpeg's YCbCr -> RGB); default DCT method
    // (JDCT_ISLOW) and fancy upsampling, as Pillow leaves them.
    cinfo.out_color_space = cinfo.jpeg_color_space == JCS_GRAYSCALE ? JCS_GRAYSCALE : JCS_RGB;
    result->width = cinfo.image_width;
    result->height = cinfo.image_height;
    result->channels = cinfo.jpeg_color_space == JCS_GRAYSCALE ? 1 : 3;
    if (cinfo.image_width == 0 || cinfo.image_height == 0 ||
        static_cast<unsigned long long>(cinfo.image_width) * cinfo.image_height > kMaxPixels) {
        jpeg_destroy_decompress(&cinfo);
        return true;  // the caller reports the size
    }
    pixels->resize(static_cast<std::size_t>(cinfo.image_width) * cinfo.image_height *
                   static_cast<std::size_t>(result->channels));
    jpeg_start_decompress(&cinfo);
    const std::size_t stride = static_cast<std::size_t>(cinfo.output_width) * static_cast<std::size_t>(cinfo.output_components);
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW row = pixels->data() + static_cast<std::size_t>(cinfo.output_scanline) * stride;
        jpeg_read_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    return true;
}

Image decode_jpeg(const std::string& path, const std::string& bytes) {
    JpegErrors errors{};
    JpegResult result;
    std::vector<std::uint8_t> pixels;
    if (!decode_jpeg_c(reinterpret_cast<const unsigned char*>(bytes.data()),
                       static_cast<unsigned long>(bytes.size()), &errors, &result, &pixels)) {
        throw InputError(path + ": not a readable JPEG (" + errors.message + "; truncated or corrupt?)");
    }
    if (result.cmyk) {
        throw InputError(path + ": a CMYK JPEG; convert it to RGB first (Pillow and vgg_infer read RGB/grayscale)");
    }
    check_size(path, result.width, result.height);
    return Image{static_cast<int>(result.width), static_cast<int>(result.height), result.channels, std::move(pixels)};
}

}  // namespace

Image decode_image(const std::string& path) {
    const std::string bytes = read_bytes(path);
    static const char kPng[] = "\x89PNG\r\n\x1a\n";
    if (bytes.size() >= 8 && bytes.compare(0, 8, kPng, 8) == 0) {
        return decode_png(path, bytes);
    }
    if (bytes.size() >= 3 && static_cast<unsigned char>(bytes[0]) == 0xFF &&
        static_cast<unsigned char>(bytes[1]) == 0xD8 && static_cast<unsigned char>(bytes[2]) == 0xFF) {
        return decode_jpeg(path, bytes);
    }
    throw InputError(path + ": not a PNG or JPEG image (vgg_infer reads those two; convert it, or give a "
                            "preprocessed batch with --npy)");
}

}  // namespace vgg_deploy
