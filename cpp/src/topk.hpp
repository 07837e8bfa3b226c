// Softmax and top-k over one row of logits, as the Python runners' predict() reports them.
#pragma once

#include <cstddef>
#include <vector>

namespace vgg_deploy {

struct Prediction {
    std::size_t index;   // class index
    double probability;  // softmax over the whole row
    float logit;
};

// Numerically stable softmax (max subtracted, computed in double). Throws std::domain_error on a NaN or infinite
// logit: an engine that produces them is broken, and a probability would hide it.
std::vector<double> softmax(const float* logits, std::size_t count);

// The k most probable classes, most probable first; equal probabilities keep the lower class index first, so
// the order is deterministic. k larger than count returns all classes.
std::vector<Prediction> top_k(const float* logits, std::size_t count, std::size_t k);

}  // namespace vgg_deploy
