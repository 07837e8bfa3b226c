#include "json_value.hpp"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace vgg_deploy {
namespace {

constexpr int kMaxDepth = 64;

class Parser {
public:
    explicit Parser(const std::string& text) : text_(text) {}

    JsonValue document() {
        JsonValue value = parse_value(0);
        skip_space();
        if (pos_ != text_.size()) {
            fail("unexpected text after the value");
        }
        return value;
    }

private:
    [[noreturn]] void fail(const std::string& what) const {
        throw JsonError("invalid JSON at character " + std::to_string(pos_) + ": " + what);
    }

    void skip_space() {
        while (pos_ < text_.size() &&
               (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n' || text_[pos_] == '\r')) {
            ++pos_;
        }
    }

    bool take(const char* word) {
        const std::string w(word);
        if (text_.compare(pos_, w.size(), w) == 0) {
            pos_ += w.size();
            return true;
        }
        return false;
    }

    JsonValue parse_value(int depth) {
        if (depth > kMaxDepth) {
            fail("nested deeper than " + std::to_string(kMaxDepth) + " levels");
        }
        skip_space();
        if (pos_ >= text_.size()) {
            fail("unexpected end of text");
        }
        JsonValue value;
        const char c = text_[pos_];
        if (c == '{') {
            value.type = JsonValue::Type::Object;
            ++pos_;
            skip_space();
            if (pos_ < text_.size() && text_[pos_] == '}') {
                ++pos_;
                return value;
            }
            while (true) {
                skip_space();
                if (pos_ >= text_.size() || text_[pos_] != '"') {
                    fail("expected a string key");
                }
                std::string key = parse_string();
                skip_space();
                if (pos_ >= text_.size() || text_[pos_] != ':') {
                    fail("expected ':'");
                }
                ++pos_;
                value.object[key] = parse_value(depth + 1);
                skip_space();
                if (pos_ < text_.size() && text_[pos_] == ',') {
                    ++pos_;
                } else if (pos_ < text_.size() && text_[pos_] == '}') {
                    ++pos_;
                    return value;
                } else {
                    fail("expected ',' or '}'");
                }
            }
        }
        if (c == '[') {
            value.type = JsonValue::Type::Array;
            ++pos_;
            skip_space();
            if (pos_ < text_.size() && text_[pos_] == ']') {
                ++pos_;
                return value;
            }
            while (true) {
                value.array.push_back(parse_value(depth + 1));
                skip_space();
                if (pos_ < text_.size() && text_[pos_] == ',') {
                    ++pos_;
                } else if (pos_ < text_.size() && text_[pos_] == ']') {
                    ++pos_;
                    return value;
                } else {
                    fail("expected ',' or ']'");
                }
            }
        }
        if (c == '"') {
            value.type = JsonValue::Type::String;
            value.string = parse_string();
            return value;
        }
        if (take("true")) {
            value.type = JsonValue::Type::Bool;
            value.boolean = true;
            return value;
        }
        if (take("false")) {
            value.type = JsonValue::Type::Bool;
            return value;
        }
        if (take("null")) {
            return value;
        }
        value.type = JsonValue::Type::Number;
        value.number = parse_number();
        return value;
    }

    double parse_number() {
        // The JSON grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?; Python also writes NaN/Infinity.
        const std::size_t start = pos_;
        if (take("NaN")) {
            return std::nan("");
        }
        const bool negative = pos_ < text_.size() && text_[pos_] == '-';
        if (negative) {
            ++pos_;
        }
        if (take("Infinity")) {
            return negative ? -HUGE_VAL : HUGE_VAL;
        }
        auto digits = [&]() {
            const std::size_t from = pos_;
            while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') {
                ++pos_;
            }
            return pos_ - from;
        };
        if (digits() == 0) {
            pos_ = start;
            fail("expected a value");
        }
        if (pos_ < text_.size() && text_[pos_] == '.') {
            ++pos_;
            if (digits() == 0) {
                fail("expected digits after '.'");
            }
        }
        if (pos_ < text_.size() && (text_[pos_] == 'e' || text_[pos_] == 'E')) {
            ++pos_;
            if (pos_ < text_.size() && (text_[pos_] == '+' || text_[pos_] == '-')) {
                ++pos_;
            }
            if (digits() == 0) {
                fail("expected digits in the exponent");
            }
        }
        const std::string number = text_.substr(start, pos_ - start);
        errno = 0;
        return std::strtod(number.c_str(), nullptr);  // out of range gives +-HUGE_VAL or 0, as Python's float()
    }

    unsigned hex4() {
        if (pos_ + 4 > text_.size()) {
            fail("truncated \\u escape");
        }
        unsigned value = 0;
        for (int i = 0; i < 4; ++i) {
            const char h = text_[pos_++];
            value <<= 4;
            if (h >= '0' && h <= '9') {
                value |= static_cast<unsigned>(h - '0');
            } else if (h >= 'a' && h <= 'f') {
                value |= static_cast<unsigned>(h - 'a' + 10);
            } else if (h >= 'A' && h <= 'F') {
                value |= static_cast<unsigned>(h - 'A' + 10);
            } else {
                fail("bad \\u escape");
            }
        }
        return value;
    }

    static void append_utf8(std::string& out, unsigned code) {
        if (code < 0x80) {
            out.push_back(static_cast<char>(code));
        } else if (code < 0x800) {
            out.push_back(static_cast<char>(0xC0 | (code >> 6)));
            out.push_back(static_cast<char>(0x80 | (code & 0x3F)));
        } else if (code < 0x10000) {
            out.push_back(static_cast<char>(0xE0 | (code >> 12)));
            out.push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3F)));
            out.push_back(static_cast<char>(0x80 | (code & 0x3F)));
        } else {
            out.push_back(static_cast<char>(0xF0 | (code >> 18)));
            out.push_back(static_cast<char>(0x80 | ((code >> 12) & 0x3F)));
            out.push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3F)));
            out.push_back(static_cast<char>(0x80 | (code & 0x3F)));
        }
    }

    std::string parse_string() {
        ++pos_;  // the opening quote
        std::string out;
        while (true) {
            if (pos_ >= text_.size()) {
                fail("unterminated string");
            }
            const char c = text_[pos_++];
            if (c == '"') {
                return out;
            }
            if (static_cast<unsigned char>(c) < 0x20) {
                fail("control character in a string");
            }
            if (c != '\\') {
                out.push_back(c);
                continue;
            }
            if (pos_ >= text_.size()) {
                fail("unterminated string");
            }
            const char e = text_[pos_++];
            switch (e) {
                case '"': out.push_back('"'); break;
                case '\\': out.push_back('\\'); break;
                case '/': out.push_back('/'); break;
                case 'b': out.push_back('\b'); break;
                case 'f': out.push_back('\f'); break;
                case 'n': out.push_back('\n'); break;
                case 'r': out.push_back('\r'); break;
                case 't': out.push_back('\t'); break;
                case 'u': {
                    unsigned code = hex4();
                    if (code >= 0xD800 && code < 0xDC00 && text_.compare(pos_, 2, "\\u") == 0) {
                        pos_ += 2;
                        const unsigned low = hex4();
                        if (low >= 0xDC00 && low < 0xE000) {
                            code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
                        } else {
                            fail("unpaired surrogate");
                        }
                    }
                    append_utf8(out, code);
                    break;
                }
                default: fail(std::string("bad escape \\") + e);
            }
        }
    }

    const std::string& text_;
    std::size_t pos_ = 0;
};

}  // namespace

const JsonValue* JsonValue::find(const std::string& key) const {
    if (type != Type::Object) {
        return nullptr;
    }
    const auto it = object.find(key);
    return it == object.end() ? nullptr : &it->second;
}

JsonValue parse_json(const std::string& text) { return Parser(text).document(); }

std::string json_quote(const std::string& text) {
    std::string out = "\"";
    for (const char c : text) {
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default:
                if (static_cast<unsigned char>(c) < 0x20) {
                    char buffer[8];
                    std::snprintf(buffer, sizeof buffer, "\\u%04x", static_cast<unsigned>(c));
                    out += buffer;
                } else {
                    out.push_back(c);
                }
        }
    }
    return out + "\"";
}

}  // namespace vgg_deploy
