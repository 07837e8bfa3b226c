#include "shape.hpp"

#include <limits>
#include <sstream>
#include <stdexcept>

namespace vgg_deploy {

std::size_t element_count(const Shape& shape) {
    std::size_t count = 1;
    for (const int64_t dim : shape) {
        if (dim < 0) {
            throw std::invalid_argument("shape " + format_shape(shape) + " has a negative (dynamic) dimension");
        }
        const auto d = static_cast<std::size_t>(dim);
        if (d != 0 && count > std::numeric_limits<std::size_t>::max() / d) {
            throw std::overflow_error("shape " + format_shape(shape) + " has more elements than fit in memory");
        }
        count *= d;
    }
    return count;
}

std::string format_shape(const Shape& shape) {
    std::ostringstream out;
    out << '(';
    for (std::size_t i = 0; i < shape.size(); ++i) {
        out << (i ? ", " : "") << shape[i];
    }
    out << (shape.size() == 1 ? ",)" : ")");
    return out.str();
}

std::string check_input_shape(const Shape& engine_shape, const Shape& profile_min, const Shape& profile_max,
                              const Shape& given) {
    std::ostringstream why;
    if (given.size() != engine_shape.size()) {
        why << "the input has shape " << format_shape(given) << " (" << given.size() << " dimensions), the engine "
            << "expects " << format_shape(engine_shape) << " (" << engine_shape.size() << " dimensions; -1 = any)";
        return why.str();
    }
    const bool have_profile = profile_min.size() == given.size() && profile_max.size() == given.size();
    for (std::size_t i = 0; i < given.size(); ++i) {
        if (given[i] <= 0) {
            why << "dimension " << i << " of the input shape " << format_shape(given) << " is not positive";
            return why.str();
        }
        if (engine_shape[i] >= 0) {
            if (given[i] != engine_shape[i]) {
                why << "dimension " << i << " of the input is " << given[i] << ", the engine was built for "
                    << engine_shape[i] << " (engine input shape " << format_shape(engine_shape) << ")";
                return why.str();
            }
            continue;
        }
        if (have_profile && (given[i] < profile_min[i] || given[i] > profile_max[i])) {
            why << (i == 0 ? "batch " : "dimension " + std::to_string(i) + " = ") << given[i]
                << " is outside the engine's optimization profile [" << profile_min[i] << ", " << profile_max[i]
                << "]; rebuild the engine with a wider range (vgg-deploy build-trt --profile MIN:OPT:MAX)";
            return why.str();
        }
    }
    return {};
}

}  // namespace vgg_deploy
