#include "args.hpp"

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <limits>
#include <set>

namespace vgg_deploy {
namespace {

long long parse_integer(const std::string& option, const std::string& text, long long min_value) {
    const char* begin = text.c_str();
    char* end = nullptr;
    errno = 0;
    const long long value = std::strtoll(begin, &end, 10);
    // strtoll skips leading spaces and accepts '+'; we want plain digits only.
    const bool digits_only = !text.empty() && (std::isdigit(static_cast<unsigned char>(text[0])) || text[0] == '-');
    if (!digits_only || end == begin || *end != '\0') {
        throw UsageError("option " + option + " needs an integer, got '" + text + "'");
    }
    if (errno == ERANGE || value > std::numeric_limits<int>::max()) {
        throw UsageError("option " + option + " is too large: '" + text + "'");
    }
    if (value < min_value) {
        throw UsageError("option " + option + " must be at least " + std::to_string(min_value) + ", got " + text);
    }
    return value;
}

}  // namespace

Shape parse_shape(const std::string& text) {
    Shape shape;
    std::size_t start = 0;
    while (true) {
        const std::size_t comma = text.find(',', start);
        const std::string part = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        if (part.empty()) {
            throw UsageError("option --shape needs comma-separated positive integers like 1,3,224,224, got '" +
                             text + "'");
        }
        shape.push_back(parse_integer("--shape", part, 1));
        if (comma == std::string::npos) {
            break;
        }
        start = comma + 1;
    }
    if (shape.size() > 8) {
        throw UsageError("option --shape has " + std::to_string(shape.size()) + " dimensions; at most 8");
    }
    return shape;
}

Options parse_args(const std::vector<std::string>& args) {
    static const std::set<std::string> kValued = {"--engine", "--npy",        "--raw",    "--shape",
                                                  "--top-k",  "--iterations", "--warmup", "--labels"};
    Options options;
    std::set<std::string> seen;
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string& arg = args[i];
        if (arg == "--help" || arg == "-h") {
            options.help = true;
            return options;
        }
        if (arg.rfind("--", 0) != 0) {
            throw UsageError("unexpected argument '" + arg + "' (options start with --; see --help)");
        }
        std::string name = arg, value;
        bool inline_value = false;
        const std::size_t eq = arg.find('=');
        if (eq != std::string::npos) {
            name = arg.substr(0, eq);
            value = arg.substr(eq + 1);
            inline_value = true;
        }
        if (kValued.count(name) == 0) {
            throw UsageError("unknown option '" + name + "' (see --help)");
        }
        if (!inline_value) {
            if (i + 1 >= args.size() || args[i + 1].rfind("--", 0) == 0) {
                throw UsageError("option " + name + " needs a value");
            }
            value = args[++i];
        }
        if (value.empty()) {
            throw UsageError("option " + name + " needs a value");
        }
        if (!seen.insert(name).second) {
            throw UsageError("option " + name + " is given more than once");
        }
        if (name == "--engine") {
            options.engine = value;
        } else if (name == "--npy") {
            options.npy = value;
        } else if (name == "--raw") {
            options.raw = value;
        } else if (name == "--shape") {
            options.shape = parse_shape(value);
        } else if (name == "--top-k") {
            options.top_k = static_cast<int>(parse_integer(name, value, 1));
        } else if (name == "--iterations") {
            options.iterations = static_cast<int>(parse_integer(name, value, 1));
        } else if (name == "--warmup") {
            options.warmup = static_cast<int>(parse_integer(name, value, 0));
        } else if (name == "--labels") {
            options.labels = value;
        }
    }
    if (options.engine.empty()) {
        throw UsageError("missing --engine model.plan (an engine from vgg-deploy build-trt)");
    }
    if (options.npy.empty() == options.raw.empty()) {
        throw UsageError(options.npy.empty() ? "missing input: give --npy input.npy or --raw input.bin --shape N,C,H,W"
                                             : "give either --npy or --raw, not both");
    }
    if (!options.raw.empty() && options.shape.empty()) {
        throw UsageError("--raw needs --shape N,C,H,W (a raw file has no header to read the shape from)");
    }
    if (!options.npy.empty() && !options.shape.empty()) {
        throw UsageError("--shape goes with --raw only (a .npy file carries its shape)");
    }
    return options;
}

std::string usage(const std::string& program) {
    return "usage: " + program +
           " --engine model.plan (--npy input.npy | --raw input.bin --shape N,C,H,W)\n"
           "       [--top-k 5] [--iterations 10] [--warmup 2] [--labels labels.txt]\n"
           "\n"
           "Runs a TensorRT engine built by `vgg-deploy build-trt` on one batch and prints the top-k classes of\n"
           "each image and the latency.\n"
           "\n"
           "  --engine PATH      serialized engine (.plan), built on this GPU model with this TensorRT version\n"
           "  --npy PATH         input batch, float32 C-order .npy (np.save('x.npy', batch.astype(np.float32))),\n"
           "                     already preprocessed (resized, normalized) like the model expects\n"
           "  --raw PATH         input batch as headerless little-endian float32 values, C order\n"
           "  --shape N,C,H,W    shape of the --raw input\n"
           "  --top-k K          classes shown per image (default 5)\n"
           "  --iterations N     timed runs (default 10)\n"
           "  --warmup N         untimed runs before them (default 2)\n"
           "  --labels PATH      class names, one per line (line i = class i)\n"
           "  -h, --help         this help\n";
}

}  // namespace vgg_deploy
