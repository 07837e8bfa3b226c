// Reading a float32 input batch from a .npy file (as written by np.save) or from a raw little-endian float32 file.
// Sizes are checked against the file before anything is allocated, so a header that lies cannot make us allocate.
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

#include "shape.hpp"

namespace vgg_deploy {

// A bad or unreadable input file. what() names the file and says how to fix it.
class InputError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

struct FloatTensor {
    Shape shape;
    std::vector<float> values;  // C order
};

// Reads a .npy file of format version 1.0, 2.0 or 3.0 holding a C-ordered little-endian float32 ('<f4') array.
// Throws InputError for anything else (other dtypes, Fortran order, truncated data, a header that does not match
// the file size) with a message that says what was found and how to write a file that works.
FloatTensor read_npy(const std::string& path);

// Reads a headerless file of little-endian float32 values in C order; its size must be exactly the shape's.
FloatTensor read_raw_float32(const std::string& path, const Shape& shape);

}  // namespace vgg_deploy
