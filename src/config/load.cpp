// Reading configs: text format with file:line:col errors, overrides merged with
// replace-the-list semantics, printing back to text.
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>

#include "trainer/config/config.h"
#include "trainer/core/error.h"

namespace trainer::config {
namespace {

namespace pb = google::protobuf;

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1] ? 1 : 0)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

// The field of `type` whose name is closest to `name`, if close enough to be a typo.
std::string closest_field(const pb::Descriptor& type, const std::string& name) {
  std::string best;
  size_t best_distance = std::max<size_t>(2, name.size() / 3) + 1;
  for (int i = 0; i < type.field_count(); ++i) {
    const size_t d = edit_distance(name, type.field(i)->name());
    if (d < best_distance) {
      best_distance = d;
      best = type.field(i)->name();
    }
  }
  return best;
}

// A parser message rewritten for people, and the token it is about.
struct Explained {
  std::string text;
  // protobuf reports unknown names and values at the token after them; when set, the error
  // is moved back to the last occurrence of this identifier before that position.
  std::string token;
};

// Whether `message` is `before` A" `between` B" with an optional final '.', A and B names
// (letters, digits, '_', and '.' in A where `dotted`). Not std::regex: libstdc++'s matcher
// recurses once per character and a name thousands of characters long overflowed the stack.
bool two_names(std::string_view message, std::string_view before, std::string_view between, bool dotted,
               std::string* a, std::string* b) {
  auto name_char = [](char c, bool dot) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || (dot && c == '.');
  };
  auto take = [&](std::string_view& rest, bool dot, std::string* out) {
    size_t n = 0;
    while (n < rest.size() && name_char(rest[n], dot)) ++n;
    if (n == 0 || n >= rest.size() || rest[n] != '"') return false;
    *out = std::string(rest.substr(0, n));
    rest.remove_prefix(n + 1);
    return true;
  };
  if (message.substr(0, before.size()) != before) return false;
  std::string_view rest = message.substr(before.size());
  if (!take(rest, dotted, a) || rest.substr(0, between.size()) != between) return false;
  rest.remove_prefix(between.size());
  return take(rest, false, b) && (rest.empty() || rest == ".");
}

// Rewrites protobuf's parser messages where we can say more: the message type without its
// package and a did-you-mean for unknown fields, the valid names for unknown enum values.
Explained explain(const std::string& message) {
  const std::string package = "trainer.config.";
  std::string first, second;
  if (two_names(message, "Message type \"", " has no field named \"", true, &first, &second)) {
    const pb::Descriptor* type = pb::DescriptorPool::generated_pool()->FindMessageTypeByName(first);
    if (first.rfind(package, 0) == 0) first = first.substr(package.size());
    std::string text = str("unknown field \"", second, "\" in ", first);
    if (type != nullptr) {
      const std::string suggestion = closest_field(*type, second);
      if (!suggestion.empty()) text += str("; did you mean \"", suggestion, "\"?");
    }
    return {text, second};
  }
  if (two_names(message, "Unknown enumeration value of \"", " for field \"", false, &first, &second)) {
    // The field name alone does not say which message it is in; list the values only when
    // every enum field of that name in the schema has the same type.
    const pb::EnumDescriptor* values = nullptr;
    bool ambiguous = false;
    std::vector<const pb::Descriptor*> types{TrainEvalPipelineConfig::descriptor()};
    for (size_t i = 0; i < types.size(); ++i) {
      for (int f = 0; f < types[i]->field_count(); ++f) {
        const pb::FieldDescriptor* field = types[i]->field(f);
        const pb::Descriptor* sub = field->message_type();
        if (sub != nullptr && std::find(types.begin(), types.end(), sub) == types.end())
          types.push_back(sub);
        if (field->name() != second || field->enum_type() == nullptr) continue;
        if (values != nullptr && values != field->enum_type()) ambiguous = true;
        values = field->enum_type();
      }
    }
    std::string text = str("unknown value ", first, " for field \"", second, "\"");
    if (values != nullptr && !ambiguous) {
      text += "; valid values:";
      for (int v = 0; v < values->value_count(); ++v)
        text += str(v == 0 ? " " : ", ", values->value(v)->name());
    }
    return {text, first};
  }
  return {message, ""};
}

bool is_identifier_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

// Keeps the first problem the parser reports, as "SOURCE:LINE:COL: message" (1-based).
// Warnings count as errors: nothing in a config may be passed over silently.
class FirstError : public pb::io::ErrorCollector {
 public:
  FirstError(std::string source, const std::string& text)
      : source_(std::move(source)), text_(text) {}
  void AddError(int line, pb::io::ColumnNumber column, const std::string& message) override {
    record(line, column, message);
  }
  void AddWarning(int line, pb::io::ColumnNumber column, const std::string& message) override {
    record(line, column, message);
  }
  const std::string& error() const { return error_; }

 private:
  void record(int line, pb::io::ColumnNumber column, const std::string& message) {
    if (!error_.empty()) return;
    const Explained explained = explain(message);
    if (!explained.token.empty()) point_at(explained.token, line, column);
    error_ = str(source_, ":", line + 1, ":", column + 1, ": ", explained.text);
  }

  // Moves (line, column), both 0-based, back to the start of the last whole-word `token`
  // before it. Columns count like protobuf's tokenizer: a tab advances to the next multiple
  // of 8.
  void point_at(const std::string& token, int& line, int& column) const {
    size_t offset = 0;
    for (int l = 0; l < line; ++l) {
      offset = text_.find('\n', offset);
      if (offset == std::string::npos) return;
      ++offset;
    }
    for (int c = 0; c < column && offset < text_.size() && text_[offset] != '\n'; ++offset)
      c = text_[offset] == '\t' ? c + 8 - c % 8 : c + 1;
    for (size_t end = offset; end > 0;) {
      const size_t at = text_.rfind(token, end - 1);
      if (at == std::string::npos) return;
      const size_t after = at + token.size();
      if ((at == 0 || !is_identifier_char(text_[at - 1])) &&
          (after >= text_.size() || !is_identifier_char(text_[after]))) {
        const size_t newline = at == 0 ? std::string::npos : text_.rfind('\n', at - 1);
        line = static_cast<int>(std::count(text_.begin(), text_.begin() + at, '\n'));
        column = 0;
        for (size_t i = newline == std::string::npos ? 0 : newline + 1; i < at; ++i)
          column = text_[i] == '\t' ? column + 8 - column % 8 : column + 1;
        return;
      }
      end = at;
    }
  }

  std::string source_;
  const std::string& text_;
  std::string error_;
};

void parse_into(const std::string& text, const std::string& source_name,
                TrainEvalPipelineConfig& out) {
  FirstError errors(source_name, text);
  pb::TextFormat::Parser parser;
  parser.RecordErrorsTo(&errors);
  if (!parser.ParseFromString(text, &out)) {
    fail(errors.error().empty() ? str(source_name, ": cannot parse the config") : errors.error());
  }
  TRAINER_CHECK(errors.error().empty(), errors.error());
}

// Clears, in `to`, every repeated field that `from` sets, following the singular messages
// both have; a MergeFrom afterwards then replaces those lists instead of appending to them.
void clear_lists_set_in(const pb::Message& from, pb::Message& to) {
  const pb::Reflection& from_reflection = *from.GetReflection();
  const pb::Reflection& to_reflection = *to.GetReflection();
  std::vector<const pb::FieldDescriptor*> fields;
  from_reflection.ListFields(from, &fields);
  for (const pb::FieldDescriptor* field : fields) {
    if (field->is_repeated()) {
      to_reflection.ClearField(&to, field);
    } else if (field->cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE &&
               to_reflection.HasField(to, field)) {
      clear_lists_set_in(from_reflection.GetMessage(from, field),
                         *to_reflection.MutableMessage(&to, field));
    }
  }
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  TRAINER_CHECK(in, "cannot read config file ", path, ": ", std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  TRAINER_CHECK(!in.bad(), "cannot read config file ", path, ": ", std::strerror(errno));
  return text.str();
}

// Floats in the shortest form that reads back to the same value ("3.0517578e-05", "1.3333334";
// protobuf's own printer gives up to 9 digits).
class ShortestFloats : public pb::TextFormat::FastFieldValuePrinter {
 public:
  void PrintFloat(float value, pb::TextFormat::BaseTextGenerator* out) const override {
    print(value, out);
  }
  void PrintDouble(double value, pb::TextFormat::BaseTextGenerator* out) const override {
    print(value, out);
  }

 private:
  template <class T>
  static void print(T value, pb::TextFormat::BaseTextGenerator* out) {
    char buffer[64];
    const std::to_chars_result end = std::to_chars(buffer, buffer + sizeof(buffer), value);
    TRAINER_ASSERT(end.ec == std::errc());
    out->PrintString(std::string(buffer, end.ptr));
  }
};

}  // namespace

TrainEvalPipelineConfig parse_pipeline_text(const std::string& text,
                                            const std::string& source_name) {
  TrainEvalPipelineConfig config;
  parse_into(text, source_name, config);
  return config;
}

void apply_override(TrainEvalPipelineConfig& config, const std::string& override_text,
                    const std::string& source_name) {
  const TrainEvalPipelineConfig patch = parse_pipeline_text(override_text, source_name);
  clear_lists_set_in(patch, config);
  config.MergeFrom(patch);
}

TrainEvalPipelineConfig load_pipeline_config(const std::string& path,
                                             const std::vector<std::string>& overrides) {
  TrainEvalPipelineConfig config = parse_pipeline_text(read_file(path), path);
  for (size_t i = 0; i < overrides.size(); ++i)
    apply_override(config, overrides[i], str("<override ", i + 1, ">"));
  resolve_defaults(config);
  return config;
}

std::string to_text(const TrainEvalPipelineConfig& config) {
  pb::TextFormat::Printer printer;
  printer.SetUseShortRepeatedPrimitives(true);
  printer.SetUseUtf8StringEscaping(true);
  printer.SetDefaultFieldValuePrinter(new ShortestFloats);  // the printer takes ownership
  std::string text;
  TRAINER_ASSERT(printer.PrintToString(config, &text));
  return text;
}

}  // namespace trainer::config
