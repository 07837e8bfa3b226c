// The model's own facts (preprocessing, classes, precision), read from where vgg-deploy stored them, never
// restated here: an ONNX file's metadata_props (each value JSON text, written by `vgg-deploy export`), or for a
// TensorRT engine the "model" object of the `.plan.json` manifest `vgg-deploy build-trt` wrote next to it (a copy
// of the same metadata_props). Runtime-neutral: no ONNX, protobuf or JSON library needed.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "json_value.hpp"

namespace vgg_deploy {

using ModelFacts = std::map<std::string, JsonValue>;

// metadata_props of an ONNX file, each value parsed as JSON (kept as a string when it is not JSON, as
// vgg_deploy.export.read_metadata does). A tiny protobuf reader: it walks ModelProto's top-level fields, keeps
// field 14 (metadata_props: StringStringEntryProto key = 1, value = 2) and seeks past everything else (the graph
// and its weights are never read). Throws InputError for a missing, truncated or non-protobuf file.
ModelFacts read_onnx_metadata(const std::string& path);

// The "model" object of `<plan_path>.json`. Throws InputError when the manifest is missing or unreadable.
ModelFacts read_engine_metadata(const std::string& plan_path);

// What preprocessing needs, as vgg_deploy.export.config_from_metadata and VGGConfig.preprocess_resize derive it.
struct PreprocessConfig {
    int channels = 0;           // in_channels: 1 (grayscale, PIL "L") or 3 (RGB)
    int height = 0, width = 0;  // input_size: the center crop
    int resize = 0;             // shorter side before the crop: resize_size, else round(min(input_size) / 0.875)
    std::vector<float> mean, std;  // one per channel, applied after scaling to [0, 1]
};

// Throws InputError naming `source` when the facts are not vgg-deploy's (no architecture/input_size/...).
PreprocessConfig preprocess_config(const ModelFacts& facts, const std::string& source);

// The class names of the model ("labels"), or an empty list when it has none.
std::vector<std::string> model_labels(const ModelFacts& facts);

// A string fact ("precision", "architecture"), or "" when absent or not a string.
std::string fact_string(const ModelFacts& facts, const std::string& key);

}  // namespace vgg_deploy
