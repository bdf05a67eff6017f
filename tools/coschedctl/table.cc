// File: tools/coschedctl/table.cc
#include "tools/coschedctl/table.h"

#include <algorithm>

namespace cosched::coschedctl {

size_t DisplayWidth(const std::string& text) {
  size_t width = 0;
  for (const char c : text) {
    // UTF-8 continuation bytes (10xxxxxx) belong to the character before them.
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++width;
  }
  return width;
}

void Table::AlignRight(size_t column) {
  if (right_.size() <= column) right_.resize(column + 1, false);
  right_[column] = true;
}

std::string Table::Render() const {
  std::vector<const std::vector<std::string>*> lines;
  if (!headers_.empty()) lines.push_back(&headers_);
  for (const auto& row : rows_) lines.push_back(&row);

  std::vector<size_t> widths;
  for (const auto* line : lines) {
    if (widths.size() < line->size()) widths.resize(line->size(), 0);
    for (size_t c = 0; c < line->size(); ++c) {
      widths[c] = std::max(widths[c], DisplayWidth((*line)[c]));
    }
  }

  std::string out;
  for (const auto* line : lines) {
    std::string text;
    for (size_t c = 0; c < widths.size(); ++c) {
      const std::string empty;
      const std::string& cell = c < line->size() ? (*line)[c] : empty;
      const size_t pad = widths[c] - DisplayWidth(cell);
      const bool right = c < right_.size() && right_[c];
      if (c > 0) text += "  ";
      if (right) text.append(pad, ' ');
      text += cell;
      if (!right) text.append(pad, ' ');
    }
    // Padding after the last non-empty cell is noise for people and for diff.
    text.erase(text.find_last_not_of(' ') + 1);
    out += text;
    out += '\n';
  }
  return out;
}

}  // namespace cosched::coschedctl
