#include "npy.hpp"

#include <cctype>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>

namespace vgg_deploy {
namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr std::size_t kMagicSize = 6;
const char* const kHowToSave = "write it with np.save(path, batch.astype(np.float32))";

[[noreturn]] void fail(const std::string& path, const std::string& message) {
    throw InputError(path + ": " + message);
}

std::ifstream open_binary(const std::string& path, std::uint64_t& size) {
    std::ifstream file(path, std::ios::binary);
    if (!file) {
        fail(path, std::string("cannot open the file (") + std::strerror(errno) + ")");
    }
    file.seekg(0, std::ios::end);
    const std::streamoff end = file.tellg();
    if (end < 0) {
        fail(path, "cannot determine the file size");
    }
    size = static_cast<std::uint64_t>(end);
    file.seekg(0, std::ios::beg);
    return file;
}

// Decodes little-endian float32 values whatever the host byte order.
std::vector<float> read_floats(std::ifstream& file, const std::string& path, std::size_t count) {
    std::vector<unsigned char> bytes(count * sizeof(float));
    if (count != 0 && !file.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()))) {
        fail(path, "could not read the data");
    }
    std::vector<float> values(count);
    for (std::size_t i = 0; i < count; ++i) {
        const unsigned char* b = &bytes[i * 4];
        const std::uint32_t bits = static_cast<std::uint32_t>(b[0]) | (static_cast<std::uint32_t>(b[1]) << 8) |
                                   (static_cast<std::uint32_t>(b[2]) << 16) | (static_cast<std::uint32_t>(b[3]) << 24);
        std::memcpy(&values[i], &bits, sizeof(float));
    }
    return values;
}

// The header is a Python dict literal: {'descr': '<f4', 'fortran_order': False, 'shape': (2, 10), }
// This parser accepts exactly the literal forms numpy writes (strings, True/False, tuples of integers).
class HeaderParser {
public:
    HeaderParser(const std::string& text, const std::string& path) : text_(text), path_(path) {}

    void parse(std::string& descr, bool& fortran_order, Shape& shape) {
        bool have_descr = false, have_order = false, have_shape = false;
        expect('{');
        while (true) {
            skip_space();
            if (peek() == '}') {
                ++pos_;
                break;
            }
            const std::string key = parse_string();
            expect(':');
            if (key == "descr") {
                descr = parse_string();
                have_descr = true;
            } else if (key == "fortran_order") {
                fortran_order = parse_bool();
                have_order = true;
            } else if (key == "shape") {
                shape = parse_tuple();
                have_shape = true;
            } else {
                bad("unexpected key '" + key + "'");
            }
            skip_space();
            if (peek() == ',') {
                ++pos_;
            } else if (peek() != '}') {
                bad("expected ',' or '}'");
            }
        }
        if (!have_descr || !have_order || !have_shape) {
            bad("the header lacks one of 'descr', 'fortran_order', 'shape'");
        }
    }

private:
    [[noreturn]] void bad(const std::string& what) const {
        fail(path_, "malformed .npy header (" + what + " at character " + std::to_string(pos_) + " of \"" + text_ +
                        "\")");
    }
    char peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }
    void skip_space() {
        while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_]))) {
            ++pos_;
        }
    }
    void expect(char c) {
        skip_space();
        if (peek() != c) {
            bad(std::string("expected '") + c + "'");
        }
        ++pos_;
    }
    std::string parse_string() {
        skip_space();
        const char quote = peek();
        if (quote != '\'' && quote != '"') {
            bad("expected a quoted string");
        }
        const std::size_t close = text_.find(quote, pos_ + 1);
        if (close == std::string::npos) {
            bad("unterminated string");
        }
        std::string value = text_.substr(pos_ + 1, close - pos_ - 1);
        pos_ = close + 1;
        return value;
    }
    bool parse_bool() {
        skip_space();
        if (text_.compare(pos_, 4, "True") == 0) {
            pos_ += 4;
            return true;
        }
        if (text_.compare(pos_, 5, "False") == 0) {
            pos_ += 5;
            return false;
        }
        bad("expected True or False");
    }
    Shape parse_tuple() {
        Shape shape;
        expect('(');
        while (true) {
            skip_space();
            if (peek() == ')') {
                ++pos_;
                return shape;
            }
            if (!std::isdigit(static_cast<unsigned char>(peek()))) {
                bad("expected a non-negative integer in the shape");
            }
            int64_t dim = 0;
            while (std::isdigit(static_cast<unsigned char>(peek()))) {
                const int digit = peek() - '0';
                if (dim > (std::numeric_limits<int64_t>::max() - digit) / 10) {
                    bad("shape dimension too large");
                }
                dim = dim * 10 + digit;
                ++pos_;
            }
            shape.push_back(dim);
            skip_space();
            if (peek() == ',') {
                ++pos_;
            } else if (peek() != ')') {
                bad("expected ',' or ')' in the shape");
            }
        }
    }

    const std::string& text_;
    const std::string& path_;
    std::size_t pos_ = 0;
};

std::string describe_dtype(const std::string& descr) {
    if (descr == ">f4") {
        return "big-endian float32 ('>f4')";
    }
    return "dtype '" + descr + "'";
}

std::size_t checked_bytes(const std::string& path, const Shape& shape, std::size_t& count) {
    try {
        count = element_count(shape);
    } catch (const std::exception& e) {
        fail(path, e.what());
    }
    if (count > std::numeric_limits<std::size_t>::max() / sizeof(float)) {
        fail(path, "shape " + format_shape(shape) + " is too large (its size in bytes overflows)");
    }
    return count * sizeof(float);
}

}  // namespace

FloatTensor read_npy(const std::string& path) {
    std::uint64_t file_size = 0;
    std::ifstream file = open_binary(path, file_size);

    unsigned char prefix[12] = {};
    if (file_size < 10 || !file.read(reinterpret_cast<char*>(prefix), 10)) {
        fail(path, "not a .npy file (shorter than the 10-byte preamble); " + std::string(kHowToSave));
    }
    if (std::memcmp(prefix, kMagic, kMagicSize) != 0) {
        fail(path, "not a .npy file (no \\x93NUMPY magic); " + std::string(kHowToSave) +
                       ", or pass a headerless float32 file with --raw and --shape");
    }
    const int major = prefix[6], minor = prefix[7];
    std::uint64_t header_len = 0;
    std::uint64_t preamble = 0;
    if (major == 1 && minor == 0) {
        header_len = static_cast<std::uint64_t>(prefix[8]) | (static_cast<std::uint64_t>(prefix[9]) << 8);
        preamble = 10;
    } else if ((major == 2 || major == 3) && minor == 0) {
        if (file_size < 12 || !file.read(reinterpret_cast<char*>(prefix + 10), 2)) {
            fail(path, "truncated .npy preamble");
        }
        header_len = static_cast<std::uint64_t>(prefix[8]) | (static_cast<std::uint64_t>(prefix[9]) << 8) |
                     (static_cast<std::uint64_t>(prefix[10]) << 16) | (static_cast<std::uint64_t>(prefix[11]) << 24);
        preamble = 12;
    } else {
        fail(path, "unsupported .npy format version " + std::to_string(major) + "." + std::to_string(minor) +
                       " (supported: 1.0, 2.0, 3.0)");
    }
    if (header_len > file_size - preamble) {
        fail(path, "truncated .npy header: it claims " + std::to_string(header_len) + " bytes, the file has " +
                       std::to_string(file_size - preamble) + " after the preamble");
    }
    std::string header(static_cast<std::size_t>(header_len), '\0');
    if (header_len != 0 && !file.read(&header[0], static_cast<std::streamsize>(header_len))) {
        fail(path, "could not read the .npy header");
    }

    std::string descr;
    bool fortran_order = false;
    Shape shape;
    HeaderParser(header, path).parse(descr, fortran_order, shape);

    if (descr != "<f4") {
        fail(path, describe_dtype(descr) + " is not supported: vgg_infer reads little-endian float32 ('<f4') only; " +
                       kHowToSave);
    }
    if (fortran_order) {
        fail(path, "fortran_order is True (a Fortran-ordered array) and is not supported: vgg_infer reads C order; "
                   "write it with np.save(path, np.ascontiguousarray(batch, dtype=np.float32))");
    }

    std::size_t count = 0;
    const std::size_t nbytes = checked_bytes(path, shape, count);
    const std::uint64_t data_bytes = file_size - preamble - header_len;
    if (data_bytes < nbytes) {
        fail(path, "truncated: the header says shape " + format_shape(shape) + " float32 = " + std::to_string(nbytes) +
                       " bytes of data, the file has " + std::to_string(data_bytes));
    }
    if (data_bytes > nbytes) {
        fail(path, "the file has " + std::to_string(data_bytes - nbytes) + " bytes more than its header's shape " +
                       format_shape(shape) + " float32 = " + std::to_string(nbytes) + " bytes (a header that does " +
                       "not match the data?)");
    }
    return FloatTensor{shape, read_floats(file, path, count)};
}

FloatTensor read_raw_float32(const std::string& path, const Shape& shape) {
    std::uint64_t file_size = 0;
    std::ifstream file = open_binary(path, file_size);
    std::size_t count = 0;
    const std::size_t nbytes = checked_bytes(path, shape, count);
    if (file_size != nbytes) {
        std::ostringstream why;
        why << file_size << " bytes";
        if (file_size % sizeof(float) == 0) {
            why << " (" << file_size / sizeof(float) << " float32 values)";
        } else {
            why << " (not a whole number of float32 values)";
        }
        why << ", but --shape " << format_shape(shape) << " needs " << nbytes << " bytes (" << count
            << " float32 values)";
        fail(path, why.str());
    }
    return FloatTensor{shape, read_floats(file, path, count)};
}

}  // namespace vgg_deploy
