// Command-line options of vgg_infer. Parsing is separate from main() so every error path is unit-tested.
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

#include "shape.hpp"

namespace vgg_deploy {

// A usage error: what() is one line naming the option and what is wrong with it.
class UsageError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

struct Options {
    std::string engine;  // --engine model.plan
    std::string npy;     // --npy input.npy        (exactly one of npy / raw)
    std::string raw;     // --raw input.bin
    Shape shape;         // --shape N,C,H,W        (with --raw only)
    int top_k = 5;
    int iterations = 10;
    int warmup = 2;
    std::string labels;  // --labels labels.txt    (optional)
    bool help = false;   // --help / -h: print usage() and exit 0; nothing else is checked
};

// Parses argv[1:]. Accepts "--name value" and "--name=value". Throws UsageError.
Options parse_args(const std::vector<std::string>& args);

// Parses "2,3,32,32" (1 to 8 positive integers). Throws UsageError naming --shape.
Shape parse_shape(const std::string& text);

std::string usage(const std::string& program);

}  // namespace vgg_deploy
