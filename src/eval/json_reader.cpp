#include "json_reader.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <optional>

#include "trainer/core/error.h"

namespace trainer::eval::json {

using simdjson::dom::element;
using simdjson::dom::element_type;

simdjson::padded_string read_file(const std::string& path) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (!file) fail("cannot open ", path, ": ", std::strerror(errno));
  std::fseek(file, 0, SEEK_END);
  long size = std::ftell(file);
  std::fseek(file, 0, SEEK_SET);
  if (size < 0) {
    std::fclose(file);
    fail("cannot read ", path, ": not a regular file");
  }
  simdjson::padded_string text(static_cast<size_t>(size));
  size_t got = std::fread(text.data(), 1, text.size(), file);
  bool failed = std::ferror(file);
  std::fclose(file);
  if (failed || got != text.size()) fail("cannot read ", path, ": short read");
  return text;
}

namespace {

namespace od = simdjson::ondemand;

// Visits every value with the on-demand API, which (unlike the DOM) can say where it stopped.
// Recursion stops at kMaxVisitDepth levels (a COCO file has 5), reporting DEPTH_ERROR there: a
// hostile file nested a thousand deep must not overflow the stack.
constexpr int kMaxVisitDepth = 256;
simdjson::error_code visit(od::value value, int depth = 0) {
  if (depth > kMaxVisitDepth) return simdjson::DEPTH_ERROR;
  od::json_type type;
  if (auto error = value.type().get(type)) return error;
  switch (type) {
    case od::json_type::array: {
      od::array array;
      if (auto error = value.get_array().get(array)) return error;
      for (auto item : array) {
        od::value child;
        if (auto error = item.get(child)) return error;
        if (auto error = visit(child, depth + 1)) return error;
      }
      return simdjson::SUCCESS;
    }
    case od::json_type::object: {
      od::object object;
      if (auto error = value.get_object().get(object)) return error;
      for (auto field : object) {
        std::string_view key;
        if (auto error = field.unescaped_key().get(key)) return error;
        od::value child;
        if (auto error = field.value().get(child)) return error;
        if (auto error = visit(child, depth + 1)) return error;
      }
      return simdjson::SUCCESS;
    }
    case od::json_type::number: {
      od::number number;
      return value.get_number().get(number);
    }
    case od::json_type::string: {
      std::string_view text;
      return value.get_string().get(text);
    }
    case od::json_type::boolean: {
      bool flag;
      return value.get_bool().get(flag);
    }
    case od::json_type::null: {
      bool is_null;
      return value.is_null().get(is_null);
    }
  }
  return simdjson::SUCCESS;
}

// Errors found before any value is visited (an unclosed string, text after the root value)
// leave the on-demand parser without a position; a scan of the structure finds them.
std::optional<size_t> scan_structure(std::string_view text) {
  bool in_string = false, escaped = false, root_closed = false;
  size_t string_start = 0;
  int depth = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
    if (root_closed) return i;  // content after the root value
    if (c == '"') {
      in_string = true;
      string_start = i;
    } else if (c == '{' || c == '[') {
      ++depth;
    } else if (c == '}' || c == ']') {
      if (--depth == 0) root_closed = true;
      if (depth < 0) return i;
    }
  }
  if (in_string) return string_start;
  return std::nullopt;
}

std::optional<size_t> locate_error(const simdjson::padded_string& text) {
  od::parser parser;
  od::document document;
  simdjson::error_code error = parser.iterate(text).get(document);
  if (!error) {
    od::value root;
    error = document.get_value().get(root);
    if (!error) error = visit(root);
    const char* at = nullptr;
    if (error && !document.current_location().get(at)) return static_cast<size_t>(at - text.data());
  }
  return scan_structure(std::string_view(text.data(), text.size()));
}

}  // namespace

element parse(simdjson::dom::parser& parser, const simdjson::padded_string& text,
              std::string_view source) {
  element root;
  simdjson::error_code error = parser.parse(text).get(root);
  if (!error) return root;
  std::string reason = simdjson::error_message(error);
  if (!reason.empty() && reason.back() == '.') reason.pop_back();
  std::optional<size_t> offset = locate_error(text);
  if (!offset) fail(source, ": invalid JSON: ", reason);
  size_t line = 1, column = 1;
  for (size_t i = 0; i < *offset && i < text.size(); ++i) {
    if (text.data()[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  fail(source, ":", line, ":", column, ": invalid JSON: ", reason, " (byte offset ", *offset, ")");
}

std::string Where::str() const {
  std::string out(source);
  out += ": ";
  if (array.empty()) {
    out += field.empty() ? "top level" : std::string(field);
    return out;
  }
  out += ::trainer::str(array, "[", index, "]");
  if (!field.empty()) out += ::trainer::str(".", field);
  return out;
}

void fail_at(const Where& where, std::string_view message) { fail(where.str(), ": ", message); }

const char* type_name(element value) {
  switch (value.type()) {
    case element_type::ARRAY: return "an array";
    case element_type::OBJECT: return "an object";
    case element_type::INT64:
    case element_type::UINT64:
    case element_type::DOUBLE: return "a number";
    case element_type::STRING: return "a string";
    case element_type::BOOL: return "a boolean";
    case element_type::NULL_VALUE: return "null";
  }
  return "an unknown value";
}

int64_t read_id(element value, const Where& where) {
  switch (value.type()) {
    case element_type::INT64: return value.get_int64().value_unsafe();
    case element_type::UINT64:
      fail_at(where, str("id ", value.get_uint64().value_unsafe(), " is out of the int64 range"));
    case element_type::DOUBLE: {
      double v = value.get_double().value_unsafe();
      // 2^63 is exactly representable; anything at or beyond it does not fit.
      if (v == std::trunc(v) && v >= -9223372036854775808.0 && v < 9223372036854775808.0)
        return static_cast<int64_t>(v);
      fail_at(where, str("id ", v, " is not an integer"));
    }
    default:
      fail_at(where, str("expected an integer id, got ", type_name(value)));
  }
}

double read_number(element value, const Where& where) {
  switch (value.type()) {
    case element_type::INT64: return static_cast<double>(value.get_int64().value_unsafe());
    case element_type::UINT64: return static_cast<double>(value.get_uint64().value_unsafe());
    case element_type::DOUBLE: return value.get_double().value_unsafe();
    default: fail_at(where, str("expected a number, got ", type_name(value)));
  }
}

void read_box(element value, const Where& where, double out[4]) {
  simdjson::dom::array array;
  if (value.get_array().get(array) || array.size() != 4)
    fail_at(where, value.is_array() ? str("expected [x, y, w, h], got ", array.size(), " numbers")
                                    : str("expected [x, y, w, h], got ", type_name(value)));
  int i = 0;
  for (element number : array) out[i++] = read_number(number, where);
}

bool read_flag(element value, const Where& where) {
  if (value.type() == element_type::BOOL) return value.get_bool().value_unsafe();
  if (value.is_number()) {
    double v = read_number(value, where);
    if (v == 0) return false;
    if (v == 1) return true;
  }
  fail_at(where, "expected 0 or 1");
}

std::string_view read_string(element value, const Where& where) {
  std::string_view text;
  if (value.get_string().get(text)) fail_at(where, str("expected a string, got ", type_name(value)));
  return text;
}

}  // namespace trainer::eval::json
