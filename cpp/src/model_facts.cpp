#include "model_facts.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>

#include "npy.hpp"

namespace vgg_deploy {
namespace {

constexpr std::uint64_t kMaxEntryBytes = 16u << 20;  // one metadata entry (1000 labels are about 20 kB)
constexpr std::uint64_t kMaxFactsBytes = 64u << 20;  // all of them together
constexpr std::uint64_t kMaxManifestBytes = 64u << 20;

// Reads protobuf wire format from a seekable file, checking every length against the bytes that are left.
class WireReader {
public:
    WireReader(std::istream& in, std::string path) : in_(in), path_(std::move(path)) {}

    std::uint64_t position() const { return pos_; }
    bool at(std::uint64_t end) const { return pos_ >= end; }

    std::uint64_t varint(std::uint64_t end) {
        std::uint64_t value = 0;
        for (int shift = 0; shift < 64; shift += 7) {
            if (pos_ >= end) {
                truncated();
            }
            const int byte = in_.get();
            if (byte == EOF) {
                truncated();
            }
            ++pos_;
            value |= static_cast<std::uint64_t>(byte & 0x7F) << shift;
            if ((byte & 0x80) == 0) {
                return value;
            }
        }
        not_onnx("a varint longer than 10 bytes");
    }

    // A length-delimited field's length, checked against `end`.
    std::uint64_t length(std::uint64_t end) {
        const std::uint64_t n = varint(end);
        if (n > end - pos_) {
            truncated();
        }
        return n;
    }

    std::string bytes(std::uint64_t n) {
        std::string out(static_cast<std::size_t>(n), '\0');
        if (n > 0 && !in_.read(&out[0], static_cast<std::streamsize>(n))) {
            truncated();
        }
        pos_ += n;
        return out;
    }

    void skip(std::uint64_t n) {
        pos_ += n;
        in_.seekg(static_cast<std::streamoff>(pos_));
        if (!in_) {
            truncated();
        }
    }

    // Skips one field of `wire_type` whose tag was just read.
    void skip_field(unsigned wire_type, std::uint64_t end) {
        switch (wire_type) {
            case 0: varint(end); break;
            case 1: fixed(8, end); break;
            case 2: skip(length(end)); break;
            case 5: fixed(4, end); break;
            default: not_onnx("protobuf wire type " + std::to_string(wire_type));
        }
    }

    [[noreturn]] void truncated() const {
        throw InputError(path_ + ": truncated or not an ONNX file (a protobuf field runs past the end of the file); "
                                 "export it again with `vgg-deploy export`");
    }
    [[noreturn]] void not_onnx(const std::string& what) const {
        throw InputError(path_ + ": not an ONNX file (" + what + " at byte " + std::to_string(pos_) +
                         "); give a model from `vgg-deploy export` or `vgg-deploy quantize`");
    }

private:
    void fixed(std::uint64_t n, std::uint64_t end) {
        if (n > end - pos_) {
            truncated();
        }
        skip(n);
    }

    std::istream& in_;
    std::uint64_t pos_ = 0;
    std::string path_;
};

JsonValue parse_fact(const std::string& text) {
    try {
        return parse_json(text);
    } catch (const JsonError&) {  // written by another tool: keep the text, as read_metadata does
        JsonValue value;
        value.type = JsonValue::Type::String;
        value.string = text;
        return value;
    }
}

const JsonValue& require(const ModelFacts& facts, const std::string& key, const std::string& source) {
    const auto it = facts.find(key);
    if (it == facts.end() || it->second.is_null()) {
        throw InputError(source + ": no '" + key + "' in the model's vgg-deploy metadata; export it again with "
                                  "`vgg-deploy export`");
    }
    return it->second;
}

int positive_int(const JsonValue& value, const std::string& key, const std::string& source) {
    if (!value.is_number() || !(value.number >= 1 && value.number <= 1e6) || value.number != std::floor(value.number)) {
        throw InputError(source + ": metadata '" + key + "' should be a positive integer");
    }
    return static_cast<int>(value.number);
}

std::vector<float> float_list(const JsonValue& value, std::size_t count, const std::string& key,
                              const std::string& source) {
    std::vector<float> out;
    if (value.is_array()) {
        for (const JsonValue& v : value.array) {
            if (!v.is_number() || !std::isfinite(v.number)) {
                break;
            }
            out.push_back(static_cast<float>(v.number));  // np.asarray(config.mean, dtype=np.float32)
        }
    }
    if (out.size() != count || (!value.is_array() || value.array.size() != count)) {
        throw InputError(source + ": metadata '" + key + "' should be " + std::to_string(count) + " numbers");
    }
    return out;
}

}  // namespace

ModelFacts read_onnx_metadata(const std::string& path) {
    std::ifstream file(path, std::ios::binary | std::ios::ate);
    if (!file) {
        throw InputError(path + ": cannot open the model (" + std::strerror(errno) + ")");
    }
    const std::streamoff size = file.tellg();
    if (size <= 0) {
        throw InputError(path + ": the model file is empty; export it again with `vgg-deploy export`");
    }
    file.seekg(0);
    const auto end = static_cast<std::uint64_t>(size);
    WireReader reader(file, path);
    ModelFacts facts;
    bool has_graph = false;
    std::uint64_t kept = 0;
    while (!reader.at(end)) {
        const std::uint64_t tag = reader.varint(end);
        const std::uint64_t field = tag >> 3;
        const auto wire = static_cast<unsigned>(tag & 7);
        if (field == 0) {
            reader.not_onnx("field number 0");
        }
        if (field == 7 && wire == 2) {  // graph
            has_graph = true;
        }
        if (field != 14 || wire != 2) {
            reader.skip_field(wire, end);
            continue;
        }
        const std::uint64_t entry_length = reader.length(end);  // read first: it moves position()
        const std::uint64_t entry_end = reader.position() + entry_length;
        if (entry_length > kMaxEntryBytes || (kept += entry_length) > kMaxFactsBytes) {
            reader.not_onnx("a metadata entry larger than 16 MiB");
        }
        std::string key, value;
        while (!reader.at(entry_end)) {
            const std::uint64_t entry_tag = reader.varint(entry_end);
            const auto entry_wire = static_cast<unsigned>(entry_tag & 7);
            if ((entry_tag >> 3) == 1 && entry_wire == 2) {
                key = reader.bytes(reader.length(entry_end));
            } else if ((entry_tag >> 3) == 2 && entry_wire == 2) {
                value = reader.bytes(reader.length(entry_end));
            } else {
                reader.skip_field(entry_wire, entry_end);
            }
        }
        if (reader.position() != entry_end) {
            reader.not_onnx("a metadata entry that overruns its length");
        }
        facts[key] = parse_fact(value);
    }
    if (!has_graph) {
        reader.not_onnx("no graph");
    }
    return facts;
}

ModelFacts read_engine_metadata(const std::string& plan_path) {
    const std::string path = plan_path + ".json";
    std::ifstream file(path, std::ios::binary | std::ios::ate);
    if (!file) {
        throw InputError(path + ": cannot open the engine's manifest (" + std::strerror(errno) +
                         "); vgg-deploy build-trt writes it next to the engine and it holds the model's "
                         "preprocessing. Keep it beside the .plan, or give the batch preprocessed with --npy");
    }
    const std::streamoff size = file.tellg();
    if (size < 0 || static_cast<std::uint64_t>(size) > kMaxManifestBytes) {
        throw InputError(path + ": too large for an engine manifest");
    }
    file.seekg(0);
    std::ostringstream text;
    text << file.rdbuf();
    JsonValue manifest;
    try {
        manifest = parse_json(text.str());
    } catch (const JsonError& e) {
        throw InputError(path + ": not a readable engine manifest (" + e.what() + ")");
    }
    const JsonValue* model = manifest.find("model");
    if (model == nullptr || !model->is_object()) {
        throw InputError(path + ": the manifest has no \"model\" facts; rebuild the engine with vgg-deploy build-trt "
                                "from an ONNX made by vgg-deploy export");
    }
    return ModelFacts(model->object.begin(), model->object.end());
}

PreprocessConfig preprocess_config(const ModelFacts& facts, const std::string& source) {
    for (const char* key : {"architecture", "input_size", "in_channels"}) {
        if (facts.count(key) == 0) {
            throw InputError(source + ": no vgg-deploy metadata (" + key + " missing), so its preprocessing is "
                                      "unknown; export it with `vgg-deploy export`, or give the batch preprocessed "
                                      "with --npy");
        }
    }
    PreprocessConfig config;
    config.channels = positive_int(require(facts, "in_channels", source), "in_channels", source);
    if (config.channels != 1 && config.channels != 3) {
        throw InputError(source + ": images need a 1- or 3-channel model, not " + std::to_string(config.channels) +
                         "; give the batch with --npy");
    }
    const JsonValue& size = require(facts, "input_size", source);
    if (!size.is_array() || size.array.size() != 2) {
        throw InputError(source + ": metadata 'input_size' should be [height, width]");
    }
    config.height = positive_int(size.array[0], "input_size", source);
    config.width = positive_int(size.array[1], "input_size", source);
    const auto resize = facts.find("resize_size");
    if (resize != facts.end() && !resize->second.is_null()) {
        config.resize = positive_int(resize->second, "resize_size", source);
    } else {  // VGGConfig.preprocess_resize: Python's round(), ties to even, as nearbyint in the default mode
        config.resize = static_cast<int>(std::nearbyint(std::min(config.height, config.width) / 0.875));
    }
    const auto count = static_cast<std::size_t>(config.channels);
    config.mean = float_list(require(facts, "mean", source), count, "mean", source);
    config.std = float_list(require(facts, "std", source), count, "std", source);
    for (const float s : config.std) {
        if (!(s > 0)) {
            throw InputError(source + ": metadata 'std' should be positive");
        }
    }
    return config;
}

std::vector<std::string> model_labels(const ModelFacts& facts) {
    std::vector<std::string> labels;
    const auto it = facts.find("labels");
    if (it != facts.end() && it->second.is_array()) {
        for (const JsonValue& v : it->second.array) {
            labels.push_back(v.is_string() ? v.string : std::to_string(labels.size()));
        }
    }
    return labels;
}

std::string fact_string(const ModelFacts& facts, const std::string& key) {
    const auto it = facts.find(key);
    return it != facts.end() && it->second.is_string() ? it->second.string : "";
}

}  // namespace vgg_deploy
