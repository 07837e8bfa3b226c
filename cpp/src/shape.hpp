// Tensor shapes: element counts without overflow, printing, and the check of a batch shape against an engine's
// input shape and optimization profile. No TensorRT needed, so it is unit-tested everywhere.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace vgg_deploy {

using Shape = std::vector<int64_t>;

// Number of elements of a shape with no negative (dynamic) dimension; throws std::invalid_argument on a negative
// dimension and std::overflow_error when the count does not fit in size_t. The empty shape (a scalar) has one.
std::size_t element_count(const Shape& shape);

// "(2, 3, 32, 32)", like numpy; "(10,)" for one dimension, "()" for none.
std::string format_shape(const Shape& shape);

// Checks the input batch `given` against the engine's input shape (-1 for a dynamic dimension) and the
// optimization profile's min/max shapes (empty when the engine has no dynamic dimension). Returns an empty string
// when it fits, otherwise one sentence saying which dimension does not fit and what to do.
std::string check_input_shape(const Shape& engine_shape, const Shape& profile_min, const Shape& profile_max,
                              const Shape& given);

}  // namespace vgg_deploy
