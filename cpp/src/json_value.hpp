// A small JSON reader (RFC 8259 values: null, true/false, numbers, strings, arrays, objects) for the facts
// vgg-deploy stores as JSON text: each ONNX metadata_props value, and an engine's `.plan.json` manifest. Plus the
// string escaping vgg_infer needs to print JSON. No dependency; nesting depth and sizes are bounded.
#pragma once

#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace vgg_deploy {

class JsonError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

struct JsonValue {
    enum class Type { Null, Bool, Number, String, Array, Object };
    Type type = Type::Null;
    bool boolean = false;
    double number = 0;
    std::string string;
    std::vector<JsonValue> array;
    std::map<std::string, JsonValue> object;  // a repeated key keeps the last value, as Python's json does

    bool is_number() const { return type == Type::Number; }
    bool is_string() const { return type == Type::String; }
    bool is_array() const { return type == Type::Array; }
    bool is_object() const { return type == Type::Object; }
    bool is_null() const { return type == Type::Null; }
    // The member `key` of an object, or nullptr (also when this is not an object).
    const JsonValue* find(const std::string& key) const;
};

// Parses one JSON document (surrounding whitespace allowed). Throws JsonError saying where it stopped.
JsonValue parse_json(const std::string& text);

// `text` as a JSON string literal, quotes included (control characters escaped, UTF-8 passed through).
std::string json_quote(const std::string& text);

}  // namespace vgg_deploy
