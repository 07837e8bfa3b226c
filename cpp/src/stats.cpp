#include "stats.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>

namespace vgg_deploy {

double percentile(const std::vector<double>& sorted, double q) {
    if (sorted.empty()) {
        throw std::invalid_argument("percentile of no samples");
    }
    if (!(q >= 0.0 && q <= 1.0)) {
        throw std::invalid_argument("percentile q must be in [0, 1]");
    }
    const double position = q * static_cast<double>(sorted.size() - 1);
    const auto lower = static_cast<std::size_t>(std::floor(position));
    const std::size_t upper = std::min(lower + 1, sorted.size() - 1);
    const double fraction = position - static_cast<double>(lower);
    return sorted[lower] + (sorted[upper] - sorted[lower]) * fraction;
}

LatencyStats summarize(std::vector<double> samples) {
    if (samples.empty()) {
        throw std::invalid_argument("no latency samples to summarize");
    }
    std::sort(samples.begin(), samples.end());
    LatencyStats stats;
    stats.count = samples.size();
    stats.min = samples.front();
    stats.max = samples.back();
    stats.mean = std::accumulate(samples.begin(), samples.end(), 0.0) / static_cast<double>(samples.size());
    stats.median = percentile(samples, 0.5);
    stats.p90 = percentile(samples, 0.9);
    stats.p99 = percentile(samples, 0.99);
    return stats;
}

}  // namespace vgg_deploy
