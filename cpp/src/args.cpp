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
    static const std::set<std::string> kValued = {"--npy",     "--raw",        "--shape",  "--top-k",
                                                  "--labels",  "--batch-size", "--iterations", "--warmup",
                                                  "--precision", "--threads",  "--streams"};
    static const std::set<std::string> kFlags = {"--json"};
    Options options;
    std::vector<std::string> positionals;
    std::set<std::string> seen;
    bool only_positionals = false;
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string& arg = args[i];
        if (only_positionals || arg.rfind("--", 0) != 0 || arg == "--") {
            if (arg == "--" && !only_positionals) {
                only_positionals = true;  // what follows is a file name even if it starts with --
                continue;
            }
            if (arg == "-h") {
                options.help = true;
                return options;
            }
            if (arg.size() > 1 && arg[0] == '-' && !only_positionals) {
                throw UsageError("unknown option '" + arg + "' (see --help)");
            }
            positionals.push_back(arg);
            continue;
        }
        if (arg == "--help") {
            options.help = true;
            return options;
        }
        std::string name = arg, value;
        bool inline_value = false;
        const std::size_t eq = arg.find('=');
        if (eq != std::string::npos) {
            name = arg.substr(0, eq);
            value = arg.substr(eq + 1);
            inline_value = true;
        }
        if (kFlags.count(name) != 0) {
            if (inline_value) {
                throw UsageError("option " + name + " takes no value");
            }
            if (!seen.insert(name).second) {
                throw UsageError("option " + name + " is given more than once");
            }
            options.json = true;
            continue;
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
        if (name == "--npy") {
            options.npy = value;
        } else if (name == "--raw") {
            options.raw = value;
        } else if (name == "--shape") {
            options.shape = parse_shape(value);
        } else if (name == "--top-k") {
            options.top_k = static_cast<int>(parse_integer(name, value, 1));
        } else if (name == "--labels") {
            options.labels = value;
        } else if (name == "--batch-size") {
            options.batch_size = static_cast<int>(parse_integer(name, value, 1));
        } else if (name == "--iterations") {
            options.iterations = static_cast<int>(parse_integer(name, value, 1));
        } else if (name == "--warmup") {
            options.warmup = static_cast<int>(parse_integer(name, value, 0));
        } else if (name == "--precision") {
            if (value != "fp32" && value != "bf16") {
                throw UsageError("option --precision must be fp32 or bf16, got '" + value + "'");
            }
            options.precision = value;
        } else if (name == "--threads") {
            options.threads = static_cast<int>(parse_integer(name, value, 1));
        } else if (name == "--streams") {
            options.streams = static_cast<int>(parse_integer(name, value, 1));
        }
    }
    if (positionals.empty()) {
        throw UsageError("missing MODEL: give a model file (.onnx for OpenVINO, .plan/.engine for TensorRT) first");
    }
    options.model = positionals.front();
    options.images.assign(positionals.begin() + 1, positionals.end());
    const int inputs = static_cast<int>(!options.images.empty()) + static_cast<int>(!options.npy.empty()) +
                       static_cast<int>(!options.raw.empty());
    if (inputs == 0) {
        throw UsageError("missing input: give image files after MODEL, or --npy input.npy, or --raw input.bin "
                         "--shape N,C,H,W");
    }
    if (inputs > 1) {
        throw UsageError("give images, --npy or --raw, only one of them");
    }
    if (!options.raw.empty() && options.shape.empty()) {
        throw UsageError("--raw needs --shape N,C,H,W (a raw file has no header to read the shape from)");
    }
    if (options.raw.empty() && !options.shape.empty()) {
        throw UsageError("--shape goes with --raw only (a .npy file carries its shape, images get the model's)");
    }
    return options;
}

std::string usage(const std::string& program) {
    return "usage: " + program +
           " MODEL (IMAGES... | --npy input.npy | --raw input.bin --shape N,C,H,W)\n"
           "       [--top-k 5] [--labels labels.txt] [--batch-size N] [--iterations N] [--warmup 2] [--json]\n"
           "       [--precision fp32|bf16] [--threads N] [--streams N]\n"
           "\n"
           "Classifies images (or a preprocessed batch) with a vgg-deploy model and prints the top-k classes of each;\n"
           "with --iterations, then times that many calls of one batch and prints img/s and latency percentiles.\n"
           "\n"
           "  MODEL              .onnx: OpenVINO on the CPU (fp32, or INT8 from vgg-deploy quantize --target cpu);\n"
           "                     .plan/.engine: TensorRT engine from vgg-deploy build-trt (built on this GPU model\n"
           "                     with this TensorRT version; its .plan.json manifest beside it)\n"
           "  IMAGES             PNG or JPEG files, preprocessed as the model's metadata says (resize, center crop,\n"
           "                     mean/std, grayscale or RGB), as vgg-deploy infer does\n"
           "  --npy PATH         input batch, float32 C-order (N, C, H, W) .npy, already preprocessed\n"
           "  --raw PATH         input batch as headerless little-endian float32 values, C order\n"
           "  --shape N,C,H,W    shape of the --raw input\n"
           "  --top-k K          classes shown per image (default 5)\n"
           "  --labels PATH      class names, one per line (line i = class i); default: the model's own\n"
           "  --batch-size N     images per inference call (default 32, or the model's fixed batch)\n"
           "  --iterations N     throughput mode: N timed calls of the first batch (OpenVINO: every infer request\n"
           "                     in flight, as benchmark_app); prints img/s and latency median/p90/p99\n"
           "  --warmup N         untimed calls before them (default 2)\n"
           "  --json             print JSON: the list `vgg-deploy infer --json` prints; with --iterations an object\n"
           "                     {\"predictions\": [...], \"throughput\": {...}}\n"
           "  --precision P      OpenVINO inference precision hint: fp32 (default; set explicitly, since a CPU with\n"
           "                     bf16 would otherwise compute an fp32 model in bf16) or bf16\n"
           "  --threads N        OpenVINO inference threads (default: all cores)\n"
           "  --streams N        OpenVINO streams, without a performance hint (default: the latency hint, 1 stream)\n"
           "  -h, --help         this help\n"
           "\n"
           "Examples:\n"
           "  " + program + " vgg_digits.onnx 3.png 7.jpg --top-k 3\n"
           "  " + program + " vgg16.int8.cpu.onnx --npy batch8.npy --iterations 50 --json\n"
           "  " + program + " vgg16.int8.plan cat.jpg dog.jpg --labels imagenet_classes.txt\n"
           "\n"
           "Exit status: 0 ok; 1 a file, the model or the runtime refused (one 'Error:' line says what and what to\n"
           "do); 2 a usage error.\n";
}

}  // namespace vgg_deploy
