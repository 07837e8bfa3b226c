#include "topk.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>
#include <string>

namespace vgg_deploy {

std::vector<double> softmax(const float* logits, std::size_t count) {
    std::vector<double> probabilities(count);
    if (count == 0) {
        return probabilities;
    }
    for (std::size_t i = 0; i < count; ++i) {
        if (!std::isfinite(logits[i])) {
            throw std::domain_error("logit " + std::to_string(i) + " is " + std::to_string(logits[i]) +
                                    " (not finite): the engine produced invalid output");
        }
    }
    const double max_logit = *std::max_element(logits, logits + count);
    double sum = 0.0;
    for (std::size_t i = 0; i < count; ++i) {
        probabilities[i] = std::exp(static_cast<double>(logits[i]) - max_logit);
        sum += probabilities[i];
    }
    for (double& p : probabilities) {
        p /= sum;
    }
    return probabilities;
}

std::vector<Prediction> top_k(const float* logits, std::size_t count, std::size_t k) {
    const std::vector<double> probabilities = softmax(logits, count);
    std::vector<std::size_t> order(count);
    std::iota(order.begin(), order.end(), std::size_t{0});
    k = std::min(k, count);
    // Compare logits, not probabilities: two logits that differ may round to the same probability.
    std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(k), order.end(),
                      [&](std::size_t a, std::size_t b) {
                          return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
                      });
    std::vector<Prediction> result;
    result.reserve(k);
    for (std::size_t i = 0; i < k; ++i) {
        result.push_back(Prediction{order[i], probabilities[order[i]], logits[order[i]]});
    }
    return result;
}

}  // namespace vgg_deploy
