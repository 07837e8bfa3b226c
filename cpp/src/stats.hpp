// Latency statistics from raw samples, with the percentile definition numpy uses by default (linear).
#pragma once

#include <cstddef>
#include <vector>

namespace vgg_deploy {

struct LatencyStats {
    std::size_t count = 0;
    double min = 0, max = 0, mean = 0;
    double median = 0, p90 = 0, p99 = 0;
};

// q in [0, 1]; `sorted` ascending and non-empty. Linear interpolation between the closest ranks, like
// numpy.percentile(samples, 100 * q) with its default method.
double percentile(const std::vector<double>& sorted, double q);

// Throws std::invalid_argument when samples is empty.
LatencyStats summarize(std::vector<double> samples);

}  // namespace vgg_deploy
